#define G_LOG_DOMAIN "FstDb"

#include "fst-config.h"

#include "fst-db.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fst-audit.h"
#include "fst-error.h"
#include "fst-openssl-common.h"

/* a statement from the connection's cache (fst_db_prepare()): going out of
 * scope resets it for the next use instead of finalizing it */
typedef sqlite3_stmt FstDbStmt;

static void
fst_db_stmt_release(FstDbStmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FstDbStmt, fst_db_stmt_release)

static void
fst_db_stmt_finalize(gpointer stmt)
{
	sqlite3_finalize(stmt);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3, sqlite3_close)

/*
 * The station database: one SQLite file in WAL mode, shared by the port
 * worker threads through one connection guarded by a mutex. The schema is
 * documented in db/schema.md; keep the two in step.
 */

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
	sqlite3 *db;  /* (owned) */
	gchar *path;  /* (owned) */
	guint schema_version;
	gint64 station_id; /* last station passed to fst_db_ensure_station(), or 0 */
	gint64 operator_id; /* session context (fst_db_set_context()), or 0 */
	gint64 lot_id;
	gchar *last_backup; /* (owned) (nullable): the copy made before a migration */
	guint batch; /* > 0 inside fst_db_device_log_commit(): one transaction for all */
	GHashTable *stmts;  /* (owned): SQL text -> prepared statement, reused */
	/* valid inside one write transaction only (the write lock keeps others
	 * out): the end of the audit chain, written to `audit-head` once at
	 * commit instead of after every event, and the last device looked up */
	gboolean head_known;
	gboolean head_dirty;
	gint64 head_id;
	gchar head_hash[FST_AUDIT_HASH_LEN * 2 + 1];
	gint64 tx_device_id;
	gint64 tx_device_station;
	/* the last certificate recorded or looked up in this transaction */
	gchar tx_cert_serial[FST_DB_MAX_SERIAL_HEX + 1];
	gint64 tx_cert_id;
	gint64 tx_cert_device;
	FstCertState tx_cert_state;
};

/* error helpers */

static const gchar *
fst_db_rc_hint(gint rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return "another program holds the database locked: close it and retry";
	case SQLITE_FULL:
		return "the disk is full: free some space and retry";
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN:
	case SQLITE_AUTH:
		return "check that the file and its folder exist and are writable by this user";
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return "the file is damaged or is not a fleetstation database: restore it from a "
		       "backup or choose another file";
	case SQLITE_IOERR:
		return "the disk reported an I/O error: check the disk and the system log";
	case SQLITE_NOMEM:
		return "the station is out of memory";
	case SQLITE_CONSTRAINT:
		return "it conflicts with what is already recorded";
	default:
		break;
	}
	return NULL;
}

/* sets FST_ERROR_DATABASE: "<context> in <path>: <sqlite message>[: <hint>]" */
static gboolean fst_db_set_error(FstDb *self, GError **error, gint rc, const gchar *format, ...)
    G_GNUC_PRINTF(4, 5);

static gboolean
fst_db_set_error(FstDb *self, GError **error, gint rc, const gchar *format, ...)
{
	va_list args;
	const gchar *hint = fst_db_rc_hint(rc);
	const gchar *msg;
	g_autofree gchar *context = NULL;

	va_start(args, format);
	context = g_strdup_vprintf(format, args);
	va_end(args);

	/* the connection's message is more precise than the code's, when it is ours */
	msg = (self->db != NULL && sqlite3_errcode(self->db) == rc) ? sqlite3_errmsg(self->db)
	                                                            : sqlite3_errstr(rc);
	if (hint != NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "%s in %s: %s: %s",
		            context,
		            self->path,
		            msg,
		            hint);
	} else {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_DATABASE, "%s in %s: %s", context, self->path, msg);
	}
	return FALSE;
}

/* statement helpers; all of them expect the mutex held */

/*
 * Statements are compiled once per connection and reused (SQLite re-prepares
 * one by itself if the schema changed): compiling costs more than running the
 * small statements a device needs. Hold the result in g_autoptr(FstDbStmt),
 * which resets it after use; the same SQL must not be in use twice at once.
 */
static sqlite3_stmt *
fst_db_prepare(FstDb *self, const gchar *sql, const gchar *what, GError **error)
{
	sqlite3_stmt *stmt = g_hash_table_lookup(self->stmts, sql);
	gint rc;

	if (stmt != NULL)
		return stmt;
	rc = sqlite3_prepare_v3(self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (rc != SQLITE_OK) {
		fst_db_set_error(self, error, rc, "preparing to %s", what);
		return NULL;
	}
	g_hash_table_insert(self->stmts, g_strdup(sql), stmt);
	return stmt;
}

static gboolean
fst_db_check_bind(FstDb *self, gint rc, const gchar *what, GError **error)
{
	if (rc != SQLITE_OK)
		return fst_db_set_error(self, error, rc, "binding values to %s", what);
	return TRUE;
}

/* runs a statement that returns no rows */
static gboolean
fst_db_step_done(FstDb *self, sqlite3_stmt *stmt, const gchar *what, GError **error)
{
	gint rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		return fst_db_set_error(self, error, rc, "trying to %s", what);
	return TRUE;
}

/* runs a statement that must return one row; *found tells whether it did */
static gboolean
fst_db_step_row(FstDb *self, sqlite3_stmt *stmt, gboolean *found, const gchar *what, GError **error)
{
	gint rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*found = TRUE;
		return TRUE;
	}
	if (rc == SQLITE_DONE) {
		*found = FALSE;
		return TRUE;
	}
	return fst_db_set_error(self, error, rc, "trying to %s", what);
}

/* runs fixed SQL with no parameters (pragmas, schema, transaction control) */
static gboolean
fst_db_exec(FstDb *self, const gchar *sql, const gchar *what, GError **error)
{
	gint rc = sqlite3_exec(self->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fst_db_set_error(self, error, rc, "trying to %s", what);
	return TRUE;
}

/* what a write transaction remembers (struct _FstDb) ends with it */
static void
fst_db_forget_transaction(FstDb *self)
{
	self->head_known = FALSE;
	self->head_dirty = FALSE;
	self->tx_device_id = 0;
	self->tx_device_station = 0;
	self->tx_cert_serial[0] = '\0';
}

/* remembers a certificate for the rest of the write transaction */
static void
fst_db_remember_cert(
    FstDb *self, const gchar *serial, gint64 cert_id, gint64 device_id, FstCertState state)
{
	if (sqlite3_get_autocommit(self->db))
		return;
	g_strlcpy(self->tx_cert_serial, serial, sizeof(self->tx_cert_serial));
	self->tx_cert_id = cert_id;
	self->tx_cert_device = device_id;
	self->tx_cert_state = state;
}

/*
 * Durability (db/schema.md, "Durability"): every commit runs with
 * synchronous=FULL (set once in fst_db_setup()) and returns once the WAL is
 * on disk. What keeps that cheap is committing less often: the pipeline
 * gathers a device's records in an #FstDbDeviceLog and commits them in two
 * transactions. Inside fst_db_device_log_commit() the public functions run
 * as parts of its one transaction: their own BEGIN and COMMIT do nothing, and
 * a failure of any of them rolls back the whole of it.
 */
static gboolean
fst_db_begin(FstDb *self, const gchar *what, GError **error)
{
	/* IMMEDIATE takes the write lock now, so that two writers never deadlock
	 * upgrading read locks; the mutex already serialises our own threads */
	g_autofree gchar *msg = NULL;
	if (self->batch > 0)
		return TRUE;
	fst_db_forget_transaction(self);
	msg = g_strdup_printf("start a transaction to %s", what);
	return fst_db_exec(self, "BEGIN IMMEDIATE", msg, error);
}

static void
fst_db_rollback(FstDb *self)
{
	fst_db_forget_transaction(self);
	/* a failed statement may already have ended the transaction */
	if (sqlite3_get_autocommit(self->db))
		return;
	if (sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		g_warning("rolling back a transaction in %s failed: %s",
		          self->path,
		          sqlite3_errmsg(self->db));
}

static gboolean
fst_db_write_audit_head(FstDb *self, const gchar *what, GError **error)
{
	g_autoptr(FstDbStmt) head = NULL;
	g_autofree gchar *value =
	    g_strdup_printf("%" G_GINT64_FORMAT " %s", self->head_id, self->head_hash);

	head = fst_db_prepare(self,
	                      "INSERT INTO db_properties (key, value) VALUES ('audit-head', ?1) "
	                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	                      what,
	                      error);
	if (head == NULL)
		return FALSE;
	if (!fst_db_check_bind(
	        self, sqlite3_bind_text(head, 1, value, -1, SQLITE_TRANSIENT), what, error))
		return FALSE;
	return fst_db_step_done(self, head, what, error);
}

static gboolean
fst_db_commit(FstDb *self, const gchar *what, GError **error)
{
	g_autofree gchar *msg = NULL;
	if (self->batch > 0)
		return TRUE;
	msg = g_strdup_printf("commit %s", what);
	/* the head seals the end of the chain: a deleted last row shows */
	if (self->head_dirty && !fst_db_write_audit_head(self, msg, error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	if (!fst_db_exec(self, "COMMIT", msg, error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	fst_db_forget_transaction(self);
	return TRUE;
}

static gchar *
fst_db_column_strdup(sqlite3_stmt *stmt, gint col)
{
	const guchar *text = sqlite3_column_text(stmt, col);
	return text != NULL ? g_strdup((const gchar *)text) : NULL;
}

/* binds @value, or NULL when @value is 0 (ids) */
static gint
fst_db_bind_id(sqlite3_stmt *stmt, gint idx, gint64 value)
{
	if (value <= 0)
		return sqlite3_bind_null(stmt, idx);
	return sqlite3_bind_int64(stmt, idx, value);
}

/* input checks */

/* @single_line: no control characters at all, else newline and tab are allowed */
static gboolean
fst_db_check_text(const gchar *field,
                  const gchar *value,
                  gsize max,
                  gboolean required,
                  gboolean single_line,
                  GError **error)
{
	gsize len;

	if (value == NULL || value[0] == '\0') {
		if (!required)
			return TRUE;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s is empty: the database needs it to record the device",
		            field);
		return FALSE;
	}
	len = strnlen(value, max + 1);
	if (len > max) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s is longer than %" G_GSIZE_FORMAT " bytes: refusing to record it",
		            field,
		            max);
		return FALSE;
	}
	if (!g_utf8_validate(value, (gssize)len, NULL)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s is not valid UTF-8: refusing to record it",
		            field);
		return FALSE;
	}
	for (gsize i = 0; i < len; i++) {
		guchar c = (guchar)value[i];
		if (c >= 0x20 && c != 0x7f)
			continue;
		if (!single_line && (c == '\n' || c == '\t'))
			continue;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s holds control character 0x%02x at byte %" G_GSIZE_FORMAT
		            ": refusing to record it",
		            field,
		            c,
		            i);
		return FALSE;
	}
	return TRUE;
}

/* a step or outcome name: [a-z0-9-], starting with a letter */
static gboolean
fst_db_check_token(const gchar *field, const gchar *value, GError **error)
{
	gsize len = value != NULL ? strnlen(value, FST_DB_MAX_NAME + 1) : 0;

	if (len == 0 || len > 64 || !g_ascii_islower(value[0])) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "event %s '%s' is not a lower-case name of 1 to 64 characters",
		            field,
		            len > 64 ? "(too long)" : (value != NULL ? value : "(null)"));
		return FALSE;
	}
	for (gsize i = 0; i < len; i++) {
		gchar c = value[i];
		if (g_ascii_islower(c) || g_ascii_isdigit(c) || c == '-')
			continue;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "event %s '%s' may hold only a-z, 0-9 and '-'",
		            field,
		            value);
		return FALSE;
	}
	return TRUE;
}

/* returns @value in @case_upper or lower case if it is 1..@max hex digits */
static gchar *
fst_db_normalize_hex(
    const gchar *field, const gchar *value, gsize min, gsize max, gboolean upper, GError **error)
{
	gsize len = value != NULL ? strnlen(value, max + 1) : 0;

	if (len < min || len > max || len == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s must be %" G_GSIZE_FORMAT " to %" G_GSIZE_FORMAT
		            " hexadecimal digits, got %s",
		            field,
		            MAX(min, (gsize)1),
		            max,
		            len > max ? "a longer string" : (len == 0 ? "nothing" : value));
		return NULL;
	}
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isxdigit(value[i])) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "%s '%s' is not hexadecimal",
			            field,
			            value);
			return NULL;
		}
	}
	return upper ? g_ascii_strup(value, (gssize)len) : g_ascii_strdown(value, (gssize)len);
}

/* a copy of @text that is valid UTF-8 and at most @max bytes, cut at a character */
static gchar *
fst_db_text_bounded(const gchar *text, gsize max)
{
	g_autofree gchar *valid = g_utf8_make_valid(text != NULL ? text : "", -1);
	gsize len = strlen(valid);

	if (len <= max)
		return g_steal_pointer(&valid);
	/* step back to the start of a character */
	while (max > 0 && (((guchar)valid[max]) & 0xc0) == 0x80)
		max--;
	valid[max] = '\0';
	return g_steal_pointer(&valid);
}

/* state names */

static const gchar *const fst_cert_state_names[] = {
    [FST_CERT_STATE_ISSUED] = "issued",
    [FST_CERT_STATE_BURNED] = "burned",
    [FST_CERT_STATE_VERIFIED] = "verified",
    [FST_CERT_STATE_REGISTERED] = "registered",
    [FST_CERT_STATE_SUPERSEDED] = "superseded",
    [FST_CERT_STATE_REVOKED] = "revoked",
};
G_STATIC_ASSERT(G_N_ELEMENTS(fst_cert_state_names) == FST_CERT_STATE_LAST);

/**
 * fst_cert_state_to_string:
 * @state: an #FstCertState
 *
 * Returns: (transfer none): the name stored in `certificates.state`, e.g.
 * "issued", or "unknown"
 */
const gchar *
fst_cert_state_to_string(FstCertState state)
{
	if ((guint)state >= FST_CERT_STATE_LAST)
		return "unknown";
	return fst_cert_state_names[state];
}

static gboolean
fst_cert_state_from_string(const gchar *str, FstCertState *state)
{
	for (guint i = 0; i < FST_CERT_STATE_LAST; i++) {
		if (g_strcmp0(str, fst_cert_state_names[i]) == 0) {
			*state = (FstCertState)i;
			return TRUE;
		}
	}
	return FALSE;
}

/* certificates only move forward through issued, burned, verified and
 * registered; only one in service (verified, registered) can be superseded,
 * and a superseded one can only be revoked; revoked is final and reachable
 * from any state */
static gboolean
fst_cert_state_can_move(FstCertState from, FstCertState to)
{
	if (from == to)
		return TRUE;
	if (from == FST_CERT_STATE_REVOKED)
		return FALSE;
	if (to == FST_CERT_STATE_REVOKED)
		return TRUE;
	if (to == FST_CERT_STATE_SUPERSEDED)
		return from == FST_CERT_STATE_VERIFIED || from == FST_CERT_STATE_REGISTERED;
	if (from == FST_CERT_STATE_SUPERSEDED)
		return FALSE;
	return to > from;
}

/* records */

/**
 * fst_db_cert_free:
 * @self: (nullable): an #FstDbCert
 *
 * Frees a certificate record and everything it owns.
 */
void
fst_db_cert_free(FstDbCert *self)
{
	if (self == NULL)
		return;
	g_free(self->serial_hex);
	if (self->der != NULL)
		g_bytes_unref(self->der);
	g_free(self->aws_cert_id);
	g_free(self->subject);
	g_free(self->key_type);
	g_free(self->issuer_sha256);
	g_free(self->profile);
	g_free(self->profile_sha256);
	g_free(self->device_uid);
	g_free(self->operator_name);
	g_free(self->lot);
	g_free(self->revocation_reason);
	g_free(self->register_target);
	g_free(self);
}

/**
 * fst_db_device_free:
 * @self: (nullable): an #FstDbDevice
 *
 * Frees a device record, including its certificate.
 */
void
fst_db_device_free(FstDbDevice *self)
{
	if (self == NULL)
		return;
	g_free(self->uid);
	g_free(self->model);
	g_free(self->firmware);
	g_free(self->port);
	g_free(self->state);
	g_free(self->last_error);
	fst_db_cert_free(self->cert);
	g_free(self->key_types);
	g_free(self->validation);
	g_free(self->operator_name);
	g_free(self->lot);
	g_free(self);
}

/**
 * fst_db_event_free:
 * @self: (nullable): an #FstDbEvent
 *
 * Frees an event record.
 */
void
fst_db_event_free(FstDbEvent *self)
{
	if (self == NULL)
		return;
	g_free(self->step);
	g_free(self->outcome);
	g_free(self->detail);
	g_free(self->hash);
	g_free(self);
}

/* schema migrations */

/*
 * Schema v1. Never edit this once released: change the schema by adding
 * fst_db_migrate_v2() and so on, and document it in db/schema.md. Times are
 * integer unix microseconds in UTC unless the column says otherwise.
 */
static const gchar fst_db_schema_v1[] =
    "CREATE TABLE schema_migrations ("
    "  version INTEGER PRIMARY KEY,"
    "  applied_at INTEGER NOT NULL,"
    "  software_version TEXT NOT NULL);"
    "CREATE TABLE db_properties ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE stations ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  host TEXT,"
    "  software_version TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE devices ("
    "  id INTEGER PRIMARY KEY,"
    "  uid TEXT NOT NULL UNIQUE,"
    "  model TEXT,"
    "  firmware TEXT,"
    "  protocol_version INTEGER NOT NULL DEFAULT 0,"
    "  key_types TEXT,"
    "  validation TEXT,"
    "  port TEXT,"
    "  state TEXT NOT NULL DEFAULT 'new'"
    "    CHECK (state IN ('new', 'in-progress', 'provisioned', 'failed')),"
    "  last_error TEXT,"
    "  station_id INTEGER REFERENCES stations(id),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX devices_state ON devices(state);"
    "CREATE INDEX devices_station ON devices(station_id);"
    "CREATE TABLE certificates ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  device_id INTEGER NOT NULL REFERENCES devices(id),"
    "  serial_hex TEXT NOT NULL UNIQUE,"
    "  aws_cert_id TEXT NOT NULL UNIQUE,"
    "  der BLOB NOT NULL,"
    "  subject TEXT,"
    "  key_type TEXT,"
    "  not_before INTEGER,"
    "  not_after INTEGER,"
    "  issuer_sha256 TEXT,"
    "  profile TEXT,"
    "  state TEXT NOT NULL DEFAULT 'issued'"
    "    CHECK (state IN ('issued', 'burned', 'verified', 'registered', 'revoked')),"
    "  station_id INTEGER REFERENCES stations(id),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX certificates_device ON certificates(device_id, id);"
    "CREATE INDEX certificates_state ON certificates(state);"
    "CREATE INDEX certificates_not_after ON certificates(not_after);"
    "CREATE TABLE device_objects ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  device_id INTEGER NOT NULL REFERENCES devices(id),"
    "  certificate_id INTEGER REFERENCES certificates(id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('device-cert', 'ca-chain', 'trust-roots')),"
    "  sha256 TEXT NOT NULL,"
    "  length INTEGER NOT NULL,"
    "  contents TEXT,"
    "  station_id INTEGER REFERENCES stations(id),"
    "  written_at INTEGER NOT NULL);"
    "CREATE INDEX device_objects_device ON device_objects(device_id, id);"
    "CREATE INDEX device_objects_certificate ON device_objects(certificate_id);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  device_id INTEGER REFERENCES devices(id),"
    "  station_id INTEGER REFERENCES stations(id),"
    "  step TEXT NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER NOT NULL,"
    "  outcome TEXT NOT NULL,"
    "  detail TEXT);"
    "CREATE INDEX events_device ON events(device_id, id);"
    "CREATE INDEX events_started ON events(started_at);";

static gboolean
fst_db_migrate_v1(FstDb *self, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *uuid = g_uuid_string_random();
	g_autofree gchar *now = g_strdup_printf("%" G_GINT64_FORMAT, g_get_real_time());
	gint rc;

	if (!fst_db_exec(self, fst_db_schema_v1, "create the schema v1 tables", error))
		return FALSE;

	/* a stable identity for reports and audits, which outlives file renames */
	stmt = fst_db_prepare(self,
	                      "INSERT INTO db_properties (key, value) VALUES "
	                      "('database-id', ?1), ('created-at', ?2)",
	                      "record the database identity",
	                      error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_text(stmt, 1, uuid, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 2, now, -1, SQLITE_TRANSIENT);
	if (!fst_db_check_bind(self, rc, "record the database identity", error))
		return FALSE;
	return fst_db_step_done(self, stmt, "record the database identity", error);
}

/*
 * Schema v2: who and what (operators, lots, profiles with their content hash),
 * the registration queue, revocation, the `rework` device state and the audit
 * chain over events. The devices table is rebuilt (SQLite's 12-step recipe)
 * because its state CHECK gains `rework`; everything else only adds.
 */
static const gchar fst_db_schema_v2[] =
    "CREATE TABLE operators ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE lots ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE profiles ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  content_sha256 TEXT,"
    "  created_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX profiles_name_hash ON profiles(name, ifnull(content_sha256, ''));"
    "CREATE TABLE devices_v2 ("
    "  id INTEGER PRIMARY KEY,"
    "  uid TEXT NOT NULL UNIQUE,"
    "  model TEXT,"
    "  firmware TEXT,"
    "  protocol_version INTEGER NOT NULL DEFAULT 0,"
    "  key_types TEXT,"
    "  validation TEXT,"
    "  port TEXT,"
    "  state TEXT NOT NULL DEFAULT 'new'"
    "    CHECK (state IN ('new', 'in-progress', 'provisioned', 'failed', 'rework')),"
    "  last_error TEXT,"
    "  station_id INTEGER REFERENCES stations(id),"
    "  operator_id INTEGER REFERENCES operators(id),"
    "  lot_id INTEGER REFERENCES lots(id),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "INSERT INTO devices_v2 (id, uid, model, firmware, protocol_version, key_types, validation,"
    "  port, state, last_error, station_id, created_at, updated_at)"
    "  SELECT id, uid, model, firmware, protocol_version, key_types, validation, port, state,"
    "  last_error, station_id, created_at, updated_at FROM devices;"
    "DROP TABLE devices;"
    "ALTER TABLE devices_v2 RENAME TO devices;"
    "CREATE INDEX devices_state ON devices(state);"
    "CREATE INDEX devices_station ON devices(station_id);"
    "CREATE INDEX devices_lot ON devices(lot_id);"
    "ALTER TABLE certificates ADD COLUMN profile_id INTEGER REFERENCES profiles(id);"
    "ALTER TABLE certificates ADD COLUMN operator_id INTEGER REFERENCES operators(id);"
    "ALTER TABLE certificates ADD COLUMN lot_id INTEGER REFERENCES lots(id);"
    "ALTER TABLE certificates ADD COLUMN revoked_at INTEGER;"
    "ALTER TABLE certificates ADD COLUMN revocation_reason TEXT;"
    "CREATE INDEX certificates_issuer ON certificates(issuer_sha256);"
    "CREATE INDEX certificates_lot ON certificates(lot_id, id);"
    "CREATE INDEX certificates_created ON certificates(created_at);"
    "INSERT INTO profiles (name, content_sha256, created_at)"
    "  SELECT profile, NULL, min(created_at) FROM certificates WHERE profile IS NOT NULL"
    "  GROUP BY profile ORDER BY min(id);"
    "UPDATE certificates SET profile_id = (SELECT p.id FROM profiles p"
    "  WHERE p.name = certificates.profile AND p.content_sha256 IS NULL);"
    "UPDATE certificates SET revoked_at = updated_at,"
    "  revocation_reason = 'unspecified (revoked before schema v2)' WHERE state = 'revoked';"
    "ALTER TABLE events ADD COLUMN operator_id INTEGER REFERENCES operators(id);"
    "ALTER TABLE events ADD COLUMN lot_id INTEGER REFERENCES lots(id);"
    "ALTER TABLE events ADD COLUMN hash BLOB;"
    "DROP INDEX events_started;"
    "CREATE TABLE registrations ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  certificate_id INTEGER NOT NULL REFERENCES certificates(id),"
    "  target TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'pending'"
    "    CHECK (state IN ('pending', 'in-progress', 'done', 'failed')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER,"
    "  remote_id TEXT,"
    "  last_error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (certificate_id, target));"
    "CREATE INDEX registrations_state ON registrations(state, next_attempt_at);";

static gboolean
fst_db_insert_event_locked(FstDb *self,
                           gint64 device_id,
                           gint64 station_id,
                           const gchar *step,
                           gint64 started_us,
                           gint64 ended_us,
                           const gchar *outcome,
                           const gchar *detail,
                           GError **error);

/* fills the chain hash of the events a v1 file holds, in id order */
static gboolean
fst_db_chain_existing_events(FstDb *self, GError **error)
{
	g_autoptr(FstDbStmt) sel = NULL;
	g_autoptr(FstDbStmt) upd = NULL;
	g_autofree gchar *prev = g_strdup(FST_AUDIT_GENESIS);
	const gchar *what = "chain the existing events";
	gint rc;

	sel = fst_db_prepare(self,
	                     "SELECT id, device_id, station_id, step, started_at, ended_at, "
	                     "outcome, detail FROM events ORDER BY id",
	                     what,
	                     error);
	upd = fst_db_prepare(
	    self, "UPDATE events SET hash = ?1 WHERE id = ?2", what, error);
	if (sel == NULL || upd == NULL)
		return FALSE;
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		FstAuditEventRow row = {
		    .id = sqlite3_column_int64(sel, 0),
		    .device_id = sqlite3_column_int64(sel, 1),
		    .station_id = sqlite3_column_int64(sel, 2),
		    .step = (const gchar *)sqlite3_column_text(sel, 3),
		    .started_at = sqlite3_column_int64(sel, 4),
		    .ended_at = sqlite3_column_int64(sel, 5),
		    .outcome = (const gchar *)sqlite3_column_text(sel, 6),
		    .detail = (const gchar *)sqlite3_column_text(sel, 7),
		};
		g_autofree gchar *hash = fst_audit_event_hash(prev, &row);
		guint8 raw[FST_AUDIT_HASH_LEN];
		gint brc;

		fst_audit_hash_to_bytes(hash, raw);
		sqlite3_reset(upd);
		brc = sqlite3_bind_blob(upd, 1, raw, sizeof(raw), SQLITE_TRANSIENT);
		brc |= sqlite3_bind_int64(upd, 2, row.id);
		if (!fst_db_check_bind(self, brc, what, error) ||
		    !fst_db_step_done(self, upd, what, error))
			return FALSE;
		g_free(prev);
		prev = g_steal_pointer(&hash);
	}
	if (rc != SQLITE_DONE)
		return fst_db_set_error(self, error, rc, "trying to %s", what);
	return TRUE;
}

/* every certificate gets its issue event in the chain: a v1 certificate one
 * that says it was recorded by this migration */
static gboolean
fst_db_chain_existing_certificates(FstDb *self, GError **error)
{
	g_autoptr(FstDbStmt) sel = NULL;
	const gchar *what = "chain the existing certificates";
	gint64 now = g_get_real_time();
	gint rc;

	sel = fst_db_prepare(self,
	                     "SELECT device_id, station_id, serial_hex, aws_cert_id, state FROM "
	                     "certificates ORDER BY id",
	                     what,
	                     error);
	if (sel == NULL)
		return FALSE;
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		g_autofree gchar *detail =
		    g_strdup_printf("certificate %s sha256 %s as %s (recorded by the migration "
		                    "to schema v2)",
		                    (const gchar *)sqlite3_column_text(sel, 2),
		                    (const gchar *)sqlite3_column_text(sel, 3),
		                    (const gchar *)sqlite3_column_text(sel, 4));
		if (!fst_db_insert_event_locked(self,
		                                sqlite3_column_int64(sel, 0),
		                                sqlite3_column_int64(sel, 1),
		                                "certificate-issued",
		                                now,
		                                now,
		                                "ok",
		                                detail,
		                                error))
			return FALSE;
	}
	if (rc != SQLITE_DONE)
		return fst_db_set_error(self, error, rc, "trying to %s", what);
	return TRUE;
}

static gboolean
fst_db_migrate_v2(FstDb *self, GError **error)
{
	if (!fst_db_exec(self, fst_db_schema_v2, "create the schema v2 tables", error))
		return FALSE;
	if (!fst_db_chain_existing_events(self, error))
		return FALSE;
	return fst_db_chain_existing_certificates(self, error);
}

typedef gboolean (*FstDbMigrateFunc)(FstDb *self, GError **error);

/* index N migrates from version N-1 to N; append only */
/* schema v3: smaller per device (db/schema.md, "Changes in v3"). Objects
 * are looked up by device only; nothing selects them by certificate, and
 * certificates are never deleted, so the foreign key needs no index either:
 * dropping it saves about 36 bytes per device */
static const gchar fst_db_schema_v3[] = "DROP INDEX device_objects_certificate;";

static gboolean
fst_db_migrate_v3(FstDb *self, GError **error)
{
	return fst_db_exec(self, fst_db_schema_v3, "drop the index device_objects_certificate", error);
}

/*
 * Schema v4 (db/schema.md, "Changes in v4"): the `superseded` certificate
 * state and the credential slot a certificate was written to, deactivation
 * rows in the registration queue, key escrows; and fewer pages written per
 * device (db/schema.md, "Size and cost"): the issuing CA becomes a row of
 * `cas` referenced by id, the indexes no query uses go, and the tables the
 * pipeline appends to lose AUTOINCREMENT (which rewrote sqlite_sequence in
 * every commit; rows are never deleted, so ids are never reused anyway).
 * The certificates, events, device_objects and registrations tables are
 * rebuilt (SQLite's 12-step recipe) because their constraints change.
 */
static const gchar fst_db_schema_v4[] =
    "CREATE TABLE cas ("
    "  id INTEGER PRIMARY KEY,"
    "  sha256 TEXT NOT NULL UNIQUE,"
    "  subject TEXT,"
    "  not_before INTEGER,"
    "  not_after INTEGER,"
    "  created_at INTEGER NOT NULL);"
    "INSERT INTO cas (sha256, created_at)"
    "  SELECT issuer_sha256, min(created_at) FROM certificates WHERE issuer_sha256 IS NOT NULL"
    "  GROUP BY issuer_sha256 ORDER BY min(id);"
    "CREATE TABLE certificates_v4 ("
    "  id INTEGER PRIMARY KEY,"
    "  device_id INTEGER NOT NULL REFERENCES devices(id),"
    "  serial_hex TEXT NOT NULL UNIQUE,"
    "  aws_cert_id TEXT NOT NULL,"
    "  der BLOB NOT NULL,"
    "  subject TEXT,"
    "  key_type TEXT,"
    "  not_before INTEGER,"
    "  not_after INTEGER,"
    "  ca_id INTEGER REFERENCES cas(id),"
    "  state TEXT NOT NULL DEFAULT 'issued'"
    "    CHECK (state IN ('issued', 'burned', 'verified', 'registered', 'superseded',"
    "    'revoked')),"
    "  slot INTEGER NOT NULL DEFAULT 0 CHECK (slot IN (0, 1)),"
    "  station_id INTEGER REFERENCES stations(id),"
    "  profile_id INTEGER REFERENCES profiles(id),"
    "  operator_id INTEGER REFERENCES operators(id),"
    "  lot_id INTEGER REFERENCES lots(id),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  revoked_at INTEGER,"
    "  revocation_reason TEXT);"
    "INSERT INTO certificates_v4 (id, device_id, serial_hex, aws_cert_id, der, subject,"
    "  key_type, not_before, not_after, ca_id, state, station_id, profile_id, operator_id,"
    "  lot_id, created_at, updated_at, revoked_at, revocation_reason)"
    "  SELECT c.id, c.device_id, c.serial_hex, c.aws_cert_id, c.der, c.subject, c.key_type,"
    "  c.not_before, c.not_after, (SELECT a.id FROM cas a WHERE a.sha256 = c.issuer_sha256),"
    "  c.state, c.station_id, c.profile_id, c.operator_id, c.lot_id, c.created_at,"
    "  c.updated_at, c.revoked_at, c.revocation_reason FROM certificates c ORDER BY c.id;"
    "DROP TABLE certificates;"
    "ALTER TABLE certificates_v4 RENAME TO certificates;"
    "CREATE INDEX certificates_device ON certificates(device_id, id);"
    "CREATE INDEX certificates_ca ON certificates(ca_id);"
    "CREATE TABLE events_v4 ("
    "  id INTEGER PRIMARY KEY,"
    "  device_id INTEGER REFERENCES devices(id),"
    "  station_id INTEGER REFERENCES stations(id),"
    "  step TEXT NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER NOT NULL,"
    "  outcome TEXT NOT NULL,"
    "  detail TEXT,"
    "  operator_id INTEGER REFERENCES operators(id),"
    "  lot_id INTEGER REFERENCES lots(id),"
    "  hash BLOB);"
    "INSERT INTO events_v4 SELECT id, device_id, station_id, step, started_at, ended_at,"
    "  outcome, detail, operator_id, lot_id, hash FROM events ORDER BY id;"
    "DROP TABLE events;"
    "ALTER TABLE events_v4 RENAME TO events;"
    "CREATE INDEX events_device ON events(device_id, id);"
    "CREATE TABLE device_objects_v4 ("
    "  id INTEGER PRIMARY KEY,"
    "  device_id INTEGER NOT NULL REFERENCES devices(id),"
    "  certificate_id INTEGER REFERENCES certificates(id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('device-cert', 'ca-chain', 'trust-roots')),"
    "  sha256 TEXT NOT NULL,"
    "  length INTEGER NOT NULL,"
    "  contents TEXT,"
    "  station_id INTEGER REFERENCES stations(id),"
    "  written_at INTEGER NOT NULL);"
    "INSERT INTO device_objects_v4 SELECT id, device_id, certificate_id, kind, sha256, length,"
    "  contents, station_id, written_at FROM device_objects ORDER BY id;"
    "DROP TABLE device_objects;"
    "ALTER TABLE device_objects_v4 RENAME TO device_objects;"
    "CREATE TABLE registrations_v4 ("
    "  id INTEGER PRIMARY KEY,"
    "  certificate_id INTEGER NOT NULL REFERENCES certificates(id),"
    "  target TEXT NOT NULL,"
    "  action TEXT NOT NULL DEFAULT 'register' CHECK (action IN ('register', 'deactivate')),"
    "  state TEXT NOT NULL DEFAULT 'pending'"
    "    CHECK (state IN ('pending', 'in-progress', 'done', 'failed')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER,"
    "  remote_id TEXT,"
    "  last_error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (certificate_id, target, action));"
    "INSERT INTO registrations_v4 (id, certificate_id, target, state, attempts,"
    "  next_attempt_at, remote_id, last_error, created_at, updated_at)"
    "  SELECT id, certificate_id, target, state, attempts, next_attempt_at, remote_id,"
    "  last_error, created_at, updated_at FROM registrations ORDER BY id;"
    "DROP TABLE registrations;"
    "ALTER TABLE registrations_v4 RENAME TO registrations;"
    "CREATE INDEX registrations_state ON registrations(state, next_attempt_at);"
    "CREATE TABLE key_escrows ("
    "  id INTEGER PRIMARY KEY,"
    "  certificate_id INTEGER NOT NULL UNIQUE REFERENCES certificates(id),"
    "  recipient_sha256 TEXT NOT NULL,"
    "  cms BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "DROP INDEX devices_state;"
    "DROP INDEX devices_station;"
    "DROP INDEX devices_lot;"
    "CREATE INDEX devices_in_progress ON devices(station_id) WHERE state = 'in-progress';"
    "CREATE VIEW certificate_details AS SELECT c.id, d.uid AS device_uid, c.serial_hex,"
    "  c.aws_cert_id, a.sha256 AS issuer_sha256, p.name AS profile,"
    "  p.content_sha256 AS profile_sha256, c.state, c.slot, c.subject, c.key_type,"
    "  c.not_before, c.not_after, s.name AS station, o.name AS operator, l.name AS lot,"
    "  c.created_at, c.updated_at, c.revoked_at, c.revocation_reason"
    "  FROM certificates c JOIN devices d ON d.id = c.device_id"
    "  LEFT JOIN cas a ON a.id = c.ca_id LEFT JOIN profiles p ON p.id = c.profile_id"
    "  LEFT JOIN stations s ON s.id = c.station_id LEFT JOIN operators o ON o.id = c.operator_id"
    "  LEFT JOIN lots l ON l.id = c.lot_id;";

static gboolean
fst_db_migrate_v4(FstDb *self, GError **error)
{
	return fst_db_exec(self, fst_db_schema_v4, "create the schema v4 tables", error);
}

static const FstDbMigrateFunc fst_db_migrations[] = {
    NULL, /* version 0: an empty file */
    fst_db_migrate_v1,
    fst_db_migrate_v2,
    fst_db_migrate_v3,
    fst_db_migrate_v4,
};
G_STATIC_ASSERT(G_N_ELEMENTS(fst_db_migrations) == FST_DB_SCHEMA_VERSION + 1);

static gboolean
fst_db_read_user_version(FstDb *self, guint *version, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	gboolean found = FALSE;
	gint64 value;

	stmt = fst_db_prepare(self, "PRAGMA user_version", "read the schema version", error);
	if (stmt == NULL)
		return FALSE;
	if (!fst_db_step_row(self, stmt, &found, "read the schema version", error))
		return FALSE;
	value = found ? sqlite3_column_int64(stmt, 0) : 0;
	if (value < 0 || value > G_MAXINT32) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s has schema version %" G_GINT64_FORMAT
		            ", which no fleetstation writes: restore it from a backup",
		            self->path,
		            value);
		return FALSE;
	}
	*version = (guint)value;
	return TRUE;
}

static gboolean
fst_db_migrate_step(FstDb *self, guint version, gboolean *applied, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autoptr(FstDbStmt) check = NULL;
	g_autofree gchar *what = g_strdup_printf("apply schema migration v%u", version);
	g_autofree gchar *pragma = g_strdup_printf("PRAGMA user_version = %u", version);
	gboolean violation = FALSE;
	guint current = 0;
	gint rc;

	/* re-read inside the write lock: another process may have migrated first */
	if (!fst_db_read_user_version(self, &current, error))
		return FALSE;
	*applied = FALSE;
	if (current >= version)
		return TRUE;
	if (current != version - 1) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "database %s is at schema version %u, expected %u before migration v%u",
		            self->path,
		            current,
		            version - 1,
		            version);
		return FALSE;
	}
	if (!fst_db_migrations[version](self, error)) {
		g_prefix_error(error,
		               "migrating %s from schema version %u to %u (nothing was changed; "
		               "the file may not be a fleetstation database or was edited by "
		               "hand): ",
		               self->path,
		               current,
		               version);
		return FALSE;
	}

	/* migrations may rebuild tables with foreign keys off: check before commit */
	check = fst_db_prepare(self, "PRAGMA foreign_key_check", what, error);
	if (check == NULL)
		return FALSE;
	if (!fst_db_step_row(self, check, &violation, what, error))
		return FALSE;
	if (violation) {
		const guchar *table = sqlite3_column_text(check, 0);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "migrating %s to schema version %u left a dangling reference in table "
		            "%s (nothing was changed): report this fleetstation bug",
		            self->path,
		            version,
		            table != NULL ? (const gchar *)table : "(unknown)");
		return FALSE;
	}

	stmt =
	    fst_db_prepare(self,
	                   "INSERT INTO schema_migrations (version, applied_at, software_version) "
	                   "VALUES (?1, ?2, ?3)",
	                   what,
	                   error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, version);
	rc |= sqlite3_bind_int64(stmt, 2, g_get_real_time());
	rc |= sqlite3_bind_text(stmt, 3, FST_VERSION, -1, SQLITE_STATIC);
	if (!fst_db_check_bind(self, rc, what, error))
		return FALSE;
	if (!fst_db_step_done(self, stmt, what, error))
		return FALSE;
	if (!fst_db_exec(self, pragma, what, error))
		return FALSE;
	*applied = TRUE;
	return TRUE;
}

/* brings the file to FST_DB_SCHEMA_VERSION, one transaction per step */
static gboolean
fst_db_migrate(FstDb *self, GError **error)
{
	for (guint version = self->schema_version + 1; version <= FST_DB_SCHEMA_VERSION;
	     version++) {
		g_autofree gchar *what = g_strdup_printf("schema migration v%u", version);
		gboolean applied = FALSE;
		if (!fst_db_begin(self, what, error))
			return FALSE;
		if (!fst_db_migrate_step(self, version, &applied, error)) {
			fst_db_rollback(self);
			return FALSE;
		}
		if (!fst_db_commit(self, what, error))
			return FALSE;
		/* not applied: another process got there first, which is fine */
		if (applied)
			g_info("database %s migrated to schema version %u", self->path, version);
		self->schema_version = version;
	}
	return TRUE;
}

/* opening */

/*
 * Refuses, before SQLite touches it, a file that is neither empty nor a
 * SQLite database, so that a wrong path never gets rewritten. Also makes sure
 * the station's audit record is not writable by every user.
 */
static gboolean
fst_db_check_file(const gchar *path, gboolean *exists, GError **error)
{
	static const gchar header[16] = "SQLite format 3";
	gchar buf[sizeof(header)] = {0};
	struct stat st = {0};
	gssize n;
	gint fd;

	fd = g_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		gint errsv = errno;
		if (errsv == ENOENT) {
			*exists = FALSE;
			return TRUE;
		}
		g_set_error(error,
		            FST_ERROR,
		            errsv == EACCES ? FST_ERROR_PERMISSION_DENIED : FST_ERROR_DATABASE,
		            "cannot open database %s: %s: check the path and its permissions",
		            path,
		            g_strerror(errsv));
		return FALSE;
	}
	*exists = TRUE;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s is not a regular file: choose a file path",
		            path);
		g_close(fd, NULL);
		return FALSE;
	}
	do {
		n = read(fd, buf, sizeof(buf));
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		gint errsv = errno;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "cannot read database %s: %s: check the disk",
		            path,
		            g_strerror(errsv));
		g_close(fd, NULL);
		return FALSE;
	}
	/* an empty file is a new database, as SQLite sees it too */
	if (n > 0 && (n != (gssize)sizeof(header) || memcmp(buf, header, sizeof(header)) != 0)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "%s is not a SQLite database, so not a fleetstation database: it was "
		            "left untouched; choose another file or restore the station "
		            "database from a backup",
		            path);
		g_close(fd, NULL);
		return FALSE;
	}
	if ((st.st_mode & S_IWOTH) != 0) {
		if (fchmod(fd, st.st_mode & 07775) != 0) {
			gint errsv = errno;
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_PERMISSION_DENIED,
			            "database %s is writable by every user and its mode cannot be "
			            "fixed (%s): run chmod o-w on it",
			            path,
			            g_strerror(errsv));
			g_close(fd, NULL);
			return FALSE;
		}
		g_warning("database %s was writable by every user, removed that permission", path);
	}
	g_close(fd, NULL);
	return TRUE;
}

static gboolean
fst_db_query_text(FstDb *self, const gchar *sql, gchar **value, GError **error)
{
	g_autoptr(FstDbStmt) stmt = fst_db_prepare(self, sql, sql, error);
	gboolean found = FALSE;

	if (stmt == NULL)
		return FALSE;
	if (!fst_db_step_row(self, stmt, &found, sql, error))
		return FALSE;
	*value = found ? fst_db_column_strdup(stmt, 0) : NULL;
	return TRUE;
}

/*
 * Switching to WAL needs the file to itself and SQLite does not wait for that
 * with the busy handler: when another connection (a second station process
 * opening the same new file) is there, retry within the busy timeout.
 */
static gboolean
fst_db_set_wal(FstDb *self, gchar **journal, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + FST_DB_BUSY_TIMEOUT_MS * 1000;

	if (!fst_db_query_text(self, "PRAGMA journal_mode", journal, error))
		return FALSE;
	if (g_strcmp0(*journal, "wal") == 0)
		return TRUE;
	for (;;) {
		g_autoptr(GError) error_local = NULL;
		g_clear_pointer(journal, g_free);
		if (fst_db_query_text(self, "PRAGMA journal_mode = WAL", journal, &error_local))
			return TRUE;
		if ((sqlite3_extended_errcode(self->db) & 0xff) != SQLITE_BUSY ||
		    g_get_monotonic_time() > deadline) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		g_usleep(5000);
	}
}

static gboolean
fst_db_backup_to(const gchar *src_path, const gchar *dest, GError **error);

static gboolean
fst_db_setup(FstDb *self, GError **error)
{
	g_autofree gchar *journal = NULL;
	g_autofree gchar *fkeys = NULL;
	gint rc;

	sqlite3_extended_result_codes(self->db, 1);
	rc = sqlite3_busy_timeout(self->db, FST_DB_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK)
		return fst_db_set_error(self, error, rc, "setting the busy timeout");

	/* a crafted file must not be able to run SQL functions from its schema,
	 * nor can our own SQL corrupt the schema by writing sqlite_master */
	rc = sqlite3_db_config(self->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	rc |= sqlite3_db_config(self->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	if (rc != SQLITE_OK)
		return fst_db_set_error(self, error, rc, "hardening the connection");

	/* read-only first: a file from a newer fleetstation is left byte for byte */
	if (!fst_db_read_user_version(self, &self->schema_version, error))
		return FALSE;
	if (self->schema_version > FST_DB_SCHEMA_VERSION) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s has schema version %u, this fleetstation knows up to %u: "
		            "upgrade fleetstation",
		            self->path,
		            self->schema_version,
		            (guint)FST_DB_SCHEMA_VERSION);
		return FALSE;
	}

	/* migrations run with foreign keys off (the SQLite table-rebuild recipe needs
	 * it) and check them before each commit */
	if (!fst_db_exec(self, "PRAGMA foreign_keys = OFF", "turn foreign keys off", error))
		return FALSE;
	if (!fst_db_exec(self, "PRAGMA synchronous = FULL", "set synchronous mode", error))
		return FALSE;
	/* a new file gets 2 KiB pages: every commit writes each page it touched
	 * whole into the WAL, so this halves the bytes synced per device for
	 * about the same file size (db/schema.md, "Size and cost"); a file
	 * already written keeps its page size (changing it means a VACUUM) */
	if (self->schema_version == 0 &&
	    !fst_db_exec(self,
	                 "PRAGMA page_size = " G_STRINGIFY(FST_DB_PAGE_SIZE),
	                 "set the page size",
	                 error))
		return FALSE;

	/* a copy of the file as it was, before a migration rewrites tables; a
	 * new (empty) file has nothing to keep */
	if (self->schema_version > 0 && self->schema_version < FST_DB_SCHEMA_VERSION) {
		g_autoptr(GDateTime) now = g_date_time_new_now_utc();
		g_autofree gchar *stamp = g_date_time_format(now, "%Y%m%dT%H%M%S");
		g_autofree gchar *dest = g_strdup_printf("%s.v%u-%s-%06d.bak",
		                                         self->path,
		                                         self->schema_version,
		                                         stamp,
		                                         g_date_time_get_microsecond(now));
		if (!fst_db_backup_to(self->path, dest, error)) {
			g_prefix_error(error,
			               "not migrating %s from schema version %u (nothing was "
			               "changed): ",
			               self->path,
			               self->schema_version);
			return FALSE;
		}
		g_message("backed up %s to %s before migrating it from schema version %u to %u",
		          self->path,
		          dest,
		          self->schema_version,
		          (guint)FST_DB_SCHEMA_VERSION);
		self->last_backup = g_steal_pointer(&dest);
	}
	if (!fst_db_migrate(self, error))
		return FALSE;

	/* WAL lets a report read while the workers write; FULL makes every commit
	 * durable, as an issued certificate must be before it reaches a device */
	if (!fst_db_set_wal(self, &journal, error))
		return FALSE;
	if (g_strcmp0(journal, "wal") != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s cannot use write-ahead logging (journal mode stays %s): "
		            "keep it on a local disk, not a network share",
		            self->path,
		            journal != NULL ? journal : "unknown");
		return FALSE;
	}
	if (!fst_db_exec(self, "PRAGMA synchronous = FULL", "set synchronous mode", error))
		return FALSE;
	if (!fst_db_exec(self, "PRAGMA foreign_keys = ON", "turn foreign keys on", error))
		return FALSE;
	if (!fst_db_query_text(self, "PRAGMA foreign_keys", &fkeys, error))
		return FALSE;
	if (g_strcmp0(fkeys, "1") != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "the SQLite library does not enforce foreign keys on %s: "
		            "use a build of SQLite with foreign key support",
		            self->path);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_db_open:
 * @path: the database file; created (with its folder) if missing
 * @error: (nullable): return location for a #GError
 *
 * Opens the station database, switches it to WAL with synchronous=FULL and
 * foreign keys on, and migrates it to %FST_DB_SCHEMA_VERSION, each step in
 * one transaction. The returned handle is safe to share between threads.
 *
 * Fails with %FST_ERROR_DATABASE, leaving the file as it was, if @path is not
 * a SQLite database, comes from a newer fleetstation, or a migration fails.
 * A file is never deleted.
 *
 * Returns: (transfer full): the database, or %NULL on error
 */
FstDb *
fst_db_open(const gchar *path, GError **error)
{
	g_autoptr(FstDb) self = NULL;
	gboolean exists = FALSE;
	gint rc;

	g_return_val_if_fail(path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!fst_db_check_file(path, &exists, error))
		return NULL;
	if (!exists) {
		g_autofree gchar *dir = g_path_get_dirname(path);
		if (g_mkdir_with_parents(dir, 0755) != 0) {
			gint errsv = errno;
			g_set_error(error,
			            FST_ERROR,
			            errsv == EACCES ? FST_ERROR_PERMISSION_DENIED
			                            : FST_ERROR_DATABASE,
			            "cannot create folder %s for database %s: %s",
			            dir,
			            path,
			            g_strerror(errsv));
			return NULL;
		}
	}

	self = g_new0(FstDb, 1);
	g_rec_mutex_init(&self->mutex);
	self->stmts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, fst_db_stmt_finalize);
	self->path = g_strdup(path);
	rc = sqlite3_open_v2(path,
	                     &self->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		fst_db_set_error(self, error, rc, "opening the database");
		return NULL;
	}
	if (!fst_db_setup(self, error))
		return NULL;
	g_debug("opened %s at schema version %u", path, self->schema_version);
	return g_steal_pointer(&self);
}

/**
 * fst_db_close:
 * @self: (nullable) (transfer full): an #FstDb
 *
 * Closes the database. No other thread may use @self any more.
 */
void
fst_db_close(FstDb *self)
{
	if (self == NULL)
		return;
	/* the cached statements go first, or the connection cannot close */
	if (self->stmts != NULL)
		g_hash_table_destroy(self->stmts);
	if (self->db != NULL) {
		gint rc = sqlite3_close(self->db);
		if (rc != SQLITE_OK) {
			g_warning("closing database %s failed: %s", self->path, sqlite3_errstr(rc));
			sqlite3_close_v2(self->db);
		}
	}
	g_rec_mutex_clear(&self->mutex);
	g_free(self->path);
	g_free(self->last_backup);
	g_free(self);
}

/**
 * fst_db_get_schema_version:
 * @self: an #FstDb
 *
 * Returns: the schema version of the open file, %FST_DB_SCHEMA_VERSION once
 * fst_db_open() succeeded
 */
guint
fst_db_get_schema_version(FstDb *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->schema_version;
}

/**
 * fst_db_get_path:
 * @self: an #FstDb
 *
 * Returns: (transfer none): the path the database was opened from
 */
const gchar *
fst_db_get_path(FstDb *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return self->path;
}

/* writing */

/**
 * fst_db_ensure_station:
 * @self: an #FstDb
 * @name: the station name, unique in this database
 * @host: (nullable): the host it runs on
 * @software_version: (nullable): the fleetstation version
 * @error: (nullable): return location for a #GError
 *
 * Records the station, or updates its host and version if @name is known.
 * Events without a device are attributed to the last station ensured.
 *
 * Returns: the station id (> 0), or 0 on error
 */
gint64
fst_db_ensure_station(FstDb *self,
                      const gchar *name,
                      const gchar *host,
                      const gchar *software_version,
                      GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "record the station";
	gboolean found = FALSE;
	gint64 now = g_get_real_time();
	gint rc;

	g_return_val_if_fail(self != NULL, 0);

	if (!fst_db_check_text("station name", name, FST_DB_MAX_NAME, TRUE, TRUE, error) ||
	    !fst_db_check_text("station host", host, FST_DB_MAX_NAME, FALSE, TRUE, error) ||
	    !fst_db_check_text(
	        "software version", software_version, FST_DB_MAX_NAME, FALSE, TRUE, error))
		return 0;

	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = fst_db_prepare(self,
	                      "INSERT INTO stations (name, host, software_version, created_at, "
	                      "updated_at) VALUES (?1, ?2, ?3, ?4, ?4) "
	                      "ON CONFLICT (name) DO UPDATE SET host = excluded.host, "
	                      "software_version = excluded.software_version, "
	                      "updated_at = excluded.updated_at RETURNING id",
	                      what,
	                      error);
	if (stmt == NULL)
		return 0;
	rc = sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 2, host, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 3, software_version, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 4, now);
	if (!fst_db_check_bind(self, rc, what, error))
		return 0;
	if (!fst_db_step_row(self, stmt, &found, what, error))
		return 0;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "recording station %s in %s returned no id",
		            name,
		            self->path);
		return 0;
	}
	self->station_id = sqlite3_column_int64(stmt, 0);
	/* finish the statement so that the upsert is committed now */
	if (!fst_db_step_done(self, stmt, what, error))
		return 0;
	return self->station_id;
}

/* the device strings are untrusted: bounded, UTF-8, no control characters */
static gboolean
fst_db_check_device_info(const FstDeviceInfo *info, const gchar *port, GError **error)
{
	return fst_db_check_text("device uid", info->uid, FST_DB_MAX_NAME, TRUE, TRUE, error) &&
	       fst_db_check_text("device model", info->model, FST_DB_MAX_NAME, FALSE, TRUE, error) &&
	       fst_db_check_text(
	           "device firmware", info->firmware, FST_DB_MAX_NAME, FALSE, TRUE, error) &&
	       fst_db_check_text("port", port, FST_DB_MAX_PORT, FALSE, TRUE, error);
}

/**
 * fst_db_begin_device:
 * @self: an #FstDb
 * @station_id: the station provisioning it, or 0
 * @info: what the device said about itself (untrusted strings, bounded here)
 * @port: (nullable): the port it is on
 * @error: (nullable): return location for a #GError
 *
 * Records that provisioning of the device @info->uid starts: inserts the
 * device, or updates its model, firmware, capabilities and port if the uid is
 * known (a device is never recorded twice), and sets its state to
 * `in-progress`. Its last error stays until fst_db_finish_device().
 *
 * Fails with %FST_ERROR_INVALID_DATA if a string is empty (uid), too long,
 * not UTF-8 or holds control characters, and %FST_ERROR_DATABASE otherwise.
 *
 * Returns: the device id (> 0), or 0 on error
 */
gint64
fst_db_begin_device(
    FstDb *self, gint64 station_id, const FstDeviceInfo *info, const gchar *port, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *key_types = NULL;
	g_autofree gchar *validation = NULL;
	g_autofree gchar *what = NULL;
	gboolean found = FALSE;
	gint64 device_id;
	gint rc;

	g_return_val_if_fail(self != NULL, 0);
	g_return_val_if_fail(info != NULL, 0);

	if (!fst_db_check_device_info(info, port, error))
		return 0;
	key_types = fst_key_types_to_string(info->key_types);
	validation = fst_validation_to_string(info->validation);
	what = g_strdup_printf("record device %s", info->uid);

	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = fst_db_prepare(
	    self,
	    "INSERT INTO devices (uid, model, firmware, protocol_version, key_types, "
	    "validation, port, state, station_id, operator_id, lot_id, created_at, updated_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'in-progress', ?8, ?10, ?11, ?9, ?9) "
	    "ON CONFLICT (uid) DO UPDATE SET model = excluded.model, "
	    "firmware = excluded.firmware, protocol_version = excluded.protocol_version, "
	    "key_types = excluded.key_types, validation = excluded.validation, "
	    "port = excluded.port, state = 'in-progress', "
	    "station_id = coalesce(excluded.station_id, station_id), "
	    "operator_id = excluded.operator_id, lot_id = excluded.lot_id, "
	    "updated_at = excluded.updated_at RETURNING id",
	    what,
	    error);
	if (stmt == NULL)
		return 0;
	rc = sqlite3_bind_text(stmt, 1, info->uid, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 2, info->model, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 3, info->firmware, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 4, info->protocol_version);
	rc |= sqlite3_bind_text(stmt, 5, key_types, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 6, validation, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 7, port, -1, SQLITE_TRANSIENT);
	rc |= fst_db_bind_id(stmt, 8, station_id);
	rc |= sqlite3_bind_int64(stmt, 9, g_get_real_time());
	rc |= fst_db_bind_id(stmt, 10, self->operator_id);
	rc |= fst_db_bind_id(stmt, 11, self->lot_id);
	if (!fst_db_check_bind(self, rc, what, error))
		return 0;
	if (!fst_db_step_row(self, stmt, &found, what, error))
		return 0;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "recording device %s in %s returned no id",
		            info->uid,
		            self->path);
		return 0;
	}
	device_id = sqlite3_column_int64(stmt, 0);
	if (!fst_db_step_done(self, stmt, what, error))
		return 0;
	/* its station may have changed: looked up again */
	self->tx_device_id = 0;
	return device_id;
}

/* looks up a device's station; *found is FALSE if there is no such device */
static gboolean
fst_db_get_device_station_locked(
    FstDb *self, gint64 device_id, gboolean *found, gint64 *station_id, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "look up the device";

	/* a device log commit looks its device up for every record */
	if (device_id > 0 && device_id == self->tx_device_id) {
		*found = TRUE;
		*station_id = self->tx_device_station;
		return TRUE;
	}
	stmt = fst_db_prepare(self, "SELECT station_id FROM devices WHERE id = ?1", what, error);
	if (stmt == NULL)
		return FALSE;
	if (!fst_db_check_bind(self, sqlite3_bind_int64(stmt, 1, device_id), what, error))
		return FALSE;
	if (!fst_db_step_row(self, stmt, found, what, error))
		return FALSE;
	*station_id = *found ? sqlite3_column_int64(stmt, 0) : 0;
	/* only inside a write transaction, which keeps other writers out */
	if (*found && !sqlite3_get_autocommit(self->db)) {
		self->tx_device_id = device_id;
		self->tx_device_station = *station_id;
	}
	return TRUE;
}

static gboolean
fst_db_require_device_locked(FstDb *self, gint64 device_id, gint64 *station_id, GError **error)
{
	gboolean found = FALSE;

	if (!fst_db_get_device_station_locked(self, device_id, &found, station_id, error))
		return FALSE;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "device %" G_GINT64_FORMAT " is not in %s: call fst_db_begin_device() "
		            "first",
		            device_id,
		            self->path);
		return FALSE;
	}
	return TRUE;
}

/* the id of profile @name with @sha256 (nullable), recorded on first use */
static gboolean
fst_db_ensure_profile_locked(FstDb *self,
                             const gchar *name,
                             const gchar *sha256,
                             gint64 now,
                             gint64 *profile_id,
                             GError **error)
{
	g_autoptr(FstDbStmt) ins = NULL;
	g_autoptr(FstDbStmt) sel = NULL;
	g_autofree gchar *what = g_strdup_printf("record profile %s", name);
	gboolean found = FALSE;
	gint rc;

	/* known after its first use: one read */
	sel = fst_db_prepare(
	    self, "SELECT id FROM profiles WHERE name = ?1 AND content_sha256 IS ?2", what, error);
	if (sel == NULL)
		return FALSE;
	rc = sqlite3_bind_text(sel, 1, name, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(sel, 2, sha256, -1, SQLITE_TRANSIENT);
	if (!fst_db_check_bind(self, rc, what, error) ||
	    !fst_db_step_row(self, sel, &found, what, error))
		return FALSE;
	if (found) {
		*profile_id = sqlite3_column_int64(sel, 0);
		return TRUE;
	}
	ins = fst_db_prepare(self,
	                     "INSERT INTO profiles (name, content_sha256, created_at) "
	                     "VALUES (?1, ?2, ?3) RETURNING id",
	                     what,
	                     error);
	if (ins == NULL)
		return FALSE;
	rc = sqlite3_bind_text(ins, 1, name, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(ins, 2, sha256, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(ins, 3, now);
	if (!fst_db_check_bind(self, rc, what, error) ||
	    !fst_db_step_row(self, ins, &found, what, error))
		return FALSE;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "recording profile %s in %s returned no id",
		            name,
		            self->path);
		return FALSE;
	}
	*profile_id = sqlite3_column_int64(ins, 0);
	return fst_db_step_done(self, ins, what, error);
}

/*
 * The serial a certificate row is filed under must be the one in its DER:
 * then the unique serial also makes the DER (and its SHA-256, aws_cert_id)
 * unique, with no second unique index to write per certificate
 * (db/schema.md, "Size and cost"). Leading zeros do not count.
 */
static gboolean
fst_db_check_der_serial(const gchar *serial, gconstpointer der, gsize der_len, GError **error)
{
	const guchar *p = der;
	const guchar *end = p + der_len;
	const gchar *want = serial;
	g_autoptr(GString) got = g_string_new(NULL);
	long len = 0;
	gint tag = 0;
	gint xclass = 0;
	gint ret;

	/* Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version
	 * OPTIONAL, serialNumber INTEGER, ... } ... }: walked with OpenSSL's
	 * bounded ASN.1 reader; a full d2i_X509() costs more than the rest of
	 * the commit (it decodes the public key) */
	ret = ASN1_get_object(&p, &len, &tag, &xclass, (long)der_len);
	if ((ret & 0x80) == 0 && tag == V_ASN1_SEQUENCE && p + len == end)
		ret = ASN1_get_object(&p, &len, &tag, &xclass, end - p);
	else
		ret = 0x80;
	if ((ret & 0x80) == 0 && tag == V_ASN1_SEQUENCE) {
		end = p + len;
		ret = ASN1_get_object(&p, &len, &tag, &xclass, end - p);
		if ((ret & 0x80) == 0 && xclass == V_ASN1_CONTEXT_SPECIFIC && tag == 0) {
			p += len;
			ret = ASN1_get_object(&p, &len, &tag, &xclass, end - p);
		}
	} else {
		ret = 0x80;
	}
	if ((ret & 0x80) != 0 || xclass != V_ASN1_UNIVERSAL || tag != V_ASN1_INTEGER || len < 1 ||
	    len > FST_DB_MAX_SERIAL_HEX / 2 + 1) {
		ERR_clear_error();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s: its %" G_GSIZE_FORMAT " bytes are not one DER X.509 "
		            "certificate: refusing to record it",
		            serial,
		            der_len);
		return FALSE;
	}
	for (long k = 0; k < len; k++) {
		if (got->len > 0 || p[k] != 0)
			g_string_append_printf(got, "%02X", p[k]);
	}
	while (*want == '0')
		want++;
	if (got->str[0] == '0')
		g_string_erase(got, 0, 1);
	if (g_ascii_strcasecmp(want, got->str) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s: its DER has serial %s: refusing to record it under "
		            "another serial",
		            serial,
		            got->len > 0 ? got->str : "0");
		return FALSE;
	}
	return TRUE;
}

/* the issuing CA's name, read from the certificate it issued: a new `cas`
 * row records it (the CA's own validity is not in the leaf) */
static gchar *
fst_db_issuer_name(gconstpointer der, gsize der_len)
{
	const guchar *p = der;
	g_autoptr(X509) x509 = d2i_X509(NULL, &p, (long)der_len);
	g_autoptr(BIO) bio = NULL;
	BUF_MEM *mem = NULL;

	if (x509 == NULL) {
		ERR_clear_error();
		return NULL;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL ||
	    X509_NAME_print_ex(bio, X509_get_issuer_name(x509), 0, XN_FLAG_RFC2253) < 0) {
		ERR_clear_error();
		return NULL;
	}
	BIO_get_mem_ptr(bio, &mem);
	return g_strndup(mem->data, MIN(mem->length, FST_DB_MAX_SUBJECT));
}

/* the id of the CA whose DER hashes to @sha256, recorded on first use */
static gboolean
fst_db_ensure_ca_locked(FstDb *self,
                        const gchar *sha256,
                        gconstpointer der,
                        gsize der_len,
                        gint64 now,
                        gint64 *ca_id,
                        GError **error)
{
	g_autoptr(FstDbStmt) sel = NULL;
	g_autoptr(FstDbStmt) ins = NULL;
	g_autofree gchar *subject = NULL;
	const gchar *what = "record the issuing CA";
	gboolean found = FALSE;
	gint rc;

	sel = fst_db_prepare(self, "SELECT id FROM cas WHERE sha256 = ?1", what, error);
	if (sel == NULL)
		return FALSE;
	if (!fst_db_check_bind(
	        self, sqlite3_bind_text(sel, 1, sha256, -1, SQLITE_TRANSIENT), what, error) ||
	    !fst_db_step_row(self, sel, &found, what, error))
		return FALSE;
	if (found) {
		*ca_id = sqlite3_column_int64(sel, 0);
		return TRUE;
	}
	subject = fst_db_issuer_name(der, der_len);
	if (subject != NULL && !g_utf8_validate(subject, -1, NULL))
		g_clear_pointer(&subject, g_free);
	ins = fst_db_prepare(self,
	                     "INSERT INTO cas (sha256, subject, created_at) VALUES (?1, ?2, ?3) "
	                     "RETURNING id",
	                     what,
	                     error);
	if (ins == NULL)
		return FALSE;
	rc = sqlite3_bind_text(ins, 1, sha256, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(ins, 2, subject, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(ins, 3, now);
	if (!fst_db_check_bind(self, rc, what, error) ||
	    !fst_db_step_row(self, ins, &found, what, error))
		return FALSE;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "recording CA %s in %s returned no id",
		            sha256,
		            self->path);
		return FALSE;
	}
	*ca_id = sqlite3_column_int64(ins, 0);
	return fst_db_step_done(self, ins, what, error);
}

/* a `register` row for a certificate just recorded (FstDbCert.register_target);
 * the queue itself is worked by db/fst-db-registrations.c */
static gboolean
fst_db_queue_registration_locked(
    FstDb *self, gint64 cert_id, const gchar *target, gint64 now, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "queue a certificate for registration";
	gint rc;

	for (gsize i = 0; target[i] != '\0' || i == 0; i++) {
		if (i < 128 && g_ascii_isgraph(target[i]))
			continue;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "registration target '%s' is not 1 to 128 printable characters "
		            "without spaces, e.g. aws-iot:eu-west-1",
		            target);
		return FALSE;
	}
	stmt = fst_db_prepare(self,
	                      "INSERT OR IGNORE INTO registrations (certificate_id, target, action, "
	                      "state, attempts, created_at, updated_at) VALUES (?1, ?2, 'register', "
	                      "'pending', 0, ?3, ?3)",
	                      what,
	                      error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, cert_id);
	rc |= sqlite3_bind_text(stmt, 2, target, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 3, now);
	if (!fst_db_check_bind(self, rc, what, error))
		return FALSE;
	return fst_db_step_done(self, stmt, what, error);
}

/**
 * fst_db_add_certificate:
 * @self: an #FstDb
 * @device_id: the device it was issued to, from fst_db_begin_device()
 * @cert: the certificate; @cert->state is ignored, the row starts `issued`
 * @error: (nullable): return location for a #GError
 *
 * Records a newly issued certificate. The row is committed (durably, with
 * synchronous=FULL) when this returns, so it must be called before any byte
 * of it goes to the device: no certificate is ever burned unrecorded. The
 * pipeline logs it with fst_db_device_log_add_certificate() instead, and
 * commits it with the device row and the objects.
 *
 * `aws_cert_id` is the SHA-256 of the DER; it is computed when @cert leaves
 * it %NULL and checked when it does not.
 *
 * Fails with %FST_ERROR_INVALID_DATA for a bad serial, hash or field,
 * %FST_ERROR_NOT_FOUND for an unknown device, and %FST_ERROR_DATABASE when
 * the serial or the DER is already recorded.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_add_certificate(FstDb *self, gint64 device_id, const FstDbCert *cert, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *sha256 = NULL;
	g_autofree gchar *issuer = NULL;
	g_autofree gchar *profile_sha256 = NULL;
	g_autofree gchar *what = NULL;
	g_autofree gchar *detail = NULL;
	gint64 profile_id = 0;
	gint64 ca_id = 0;
	gconstpointer der;
	gsize der_len = 0;
	gint64 station_id = 0;
	gint64 now = g_get_real_time();
	gint rc;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(cert != NULL, FALSE);

	serial = fst_db_normalize_hex(
	    "certificate serial", cert->serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (serial == NULL)
		return FALSE;
	der = cert->der != NULL ? g_bytes_get_data(cert->der, &der_len) : NULL;
	if (der_len == 0 || der_len > FST_DB_MAX_DER) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s has %" G_GSIZE_FORMAT
		            " bytes of DER, expected 1 to %u: refusing to record it",
		            serial,
		            der_len,
		            (guint)FST_DB_MAX_DER);
		return FALSE;
	}
	if (!fst_db_check_der_serial(serial, der, der_len, error))
		return FALSE;
	sha256 = g_compute_checksum_for_data(G_CHECKSUM_SHA256, der, der_len);
	if (cert->aws_cert_id != NULL && g_ascii_strcasecmp(cert->aws_cert_id, sha256) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s: aws_cert_id %.64s is not the SHA-256 of its DER (%s)",
		            serial,
		            cert->aws_cert_id,
		            sha256);
		return FALSE;
	}
	if (cert->issuer_sha256 != NULL) {
		issuer = fst_db_normalize_hex("issuer SHA-256",
		                              cert->issuer_sha256,
		                              FST_DB_SHA256_HEX,
		                              FST_DB_SHA256_HEX,
		                              FALSE,
		                              error);
		if (issuer == NULL)
			return FALSE;
	}
	if (cert->profile_sha256 != NULL) {
		profile_sha256 = fst_db_normalize_hex("profile SHA-256",
		                                      cert->profile_sha256,
		                                      FST_DB_SHA256_HEX,
		                                      FST_DB_SHA256_HEX,
		                                      FALSE,
		                                      error);
		if (profile_sha256 == NULL)
			return FALSE;
	}
	if (cert->slot < 0 || cert->slot > 1) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s names credential slot %d, expected 0 (A) or 1 (B)",
		            serial,
		            cert->slot);
		return FALSE;
	}
	if (!fst_db_check_text(
	        "certificate subject", cert->subject, FST_DB_MAX_SUBJECT, FALSE, TRUE, error) ||
	    !fst_db_check_text("key type", cert->key_type, FST_DB_MAX_NAME, FALSE, TRUE, error) ||
	    !fst_db_check_text("profile", cert->profile, FST_DB_MAX_NAME, FALSE, TRUE, error))
		return FALSE;
	what = g_strdup_printf(
	    "record certificate %s for device %" G_GINT64_FORMAT, serial, device_id);

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!fst_db_begin(self, what, error))
		return FALSE;
	if (!fst_db_require_device_locked(self, device_id, &station_id, error) ||
	    (cert->profile != NULL &&
	     !fst_db_ensure_profile_locked(
	         self, cert->profile, profile_sha256, now, &profile_id, error)) ||
	    (issuer != NULL &&
	     !fst_db_ensure_ca_locked(self, issuer, der, der_len, now, &ca_id, error))) {
		fst_db_rollback(self);
		return FALSE;
	}
	stmt = fst_db_prepare(self,
	                      "INSERT INTO certificates (device_id, serial_hex, aws_cert_id, der, "
	                      "subject, key_type, not_before, not_after, ca_id, state, slot, "
	                      "station_id, profile_id, operator_id, lot_id, created_at, "
	                      "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'issued', "
	                      "?16, ?11, ?13, ?14, ?15, ?12, ?12)",
	                      what,
	                      error);
	if (stmt == NULL) {
		fst_db_rollback(self);
		return FALSE;
	}
	rc = sqlite3_bind_int64(stmt, 1, device_id);
	rc |= sqlite3_bind_text(stmt, 2, serial, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 3, sha256, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_blob64(stmt, 4, der, der_len, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 5, cert->subject, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 6, cert->key_type, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 7, cert->not_before);
	rc |= sqlite3_bind_int64(stmt, 8, cert->not_after);
	rc |= fst_db_bind_id(stmt, 9, ca_id);
	rc |= fst_db_bind_id(stmt, 11, station_id);
	rc |= sqlite3_bind_int64(stmt, 12, now);
	rc |= fst_db_bind_id(stmt, 13, profile_id);
	rc |= fst_db_bind_id(stmt, 14, self->operator_id);
	rc |= fst_db_bind_id(stmt, 15, self->lot_id);
	rc |= sqlite3_bind_int(stmt, 16, cert->slot);
	if (!fst_db_check_bind(self, rc, what, error) ||
	    !fst_db_step_done(self, stmt, what, error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	fst_db_remember_cert(
	    self, serial, sqlite3_last_insert_rowid(self->db), device_id, FST_CERT_STATE_ISSUED);
	/* the registration queue gets it in the same transaction: never lost */
	if (cert->register_target != NULL &&
	    !fst_db_queue_registration_locked(
	        self, sqlite3_last_insert_rowid(self->db), cert->register_target, now, error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	/* the audit chain holds the certificate's hash from its first moment */
	detail = g_strdup_printf("certificate %s sha256 %s", serial, sha256);
	if (!fst_db_insert_event_locked(
	        self, device_id, station_id, "certificate-issued", now, now, "ok", detail, error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	return fst_db_commit(self, what, error);
}

static gboolean
fst_db_insert_event_locked(FstDb *self,
                           gint64 device_id,
                           gint64 station_id,
                           const gchar *step,
                           gint64 started_us,
                           gint64 ended_us,
                           const gchar *outcome,
                           const gchar *detail,
                           GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *what = g_strdup_printf("record event %s", step);
	g_autofree gchar *hash = NULL;
	guint8 raw[FST_AUDIT_HASH_LEN];
	FstAuditEventRow row = {
	    .device_id = MAX(device_id, 0),
	    .station_id = station_id > 0 ? station_id : MAX(self->station_id, 0),
	    .operator_id = self->operator_id,
	    .lot_id = self->lot_id,
	    .step = step,
	    .started_at = started_us,
	    .ended_at = ended_us,
	    .outcome = outcome,
	    .detail = detail,
	};
	gint rc;

	/* the chain (db/fst-audit.c): this row's hash covers its content and the
	 * hash of the row before it; the caller holds the write transaction, so
	 * the last row read once stays the last but for ours */
	if (!self->head_known) {
		g_autoptr(FstDbStmt) last = NULL;
		g_autofree gchar *prev = NULL;
		gboolean found = FALSE;
		last = fst_db_prepare(
		    self, "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1", what, error);
		if (last == NULL)
			return FALSE;
		if (!fst_db_step_row(self, last, &found, what, error))
			return FALSE;
		self->head_id = found ? sqlite3_column_int64(last, 0) : 0;
		prev = found ? fst_audit_hash_from_bytes(sqlite3_column_blob(last, 1),
		                                         (gsize)sqlite3_column_bytes(last, 1))
		             : NULL;
		g_strlcpy(self->head_hash,
		          prev != NULL ? prev : FST_AUDIT_GENESIS,
		          sizeof(self->head_hash));
		self->head_known = TRUE;
	}
	row.id = self->head_id + 1;
	hash = fst_audit_event_hash(self->head_hash, &row);
	fst_audit_hash_to_bytes(hash, raw);

	stmt = fst_db_prepare(self,
	                      "INSERT INTO events (id, device_id, station_id, operator_id, lot_id, "
	                      "step, started_at, ended_at, outcome, detail, hash) "
	                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	                      what,
	                      error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, row.id);
	rc |= fst_db_bind_id(stmt, 2, row.device_id);
	rc |= fst_db_bind_id(stmt, 3, row.station_id);
	rc |= fst_db_bind_id(stmt, 4, row.operator_id);
	rc |= fst_db_bind_id(stmt, 5, row.lot_id);
	rc |= sqlite3_bind_text(stmt, 6, step, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 7, started_us);
	rc |= sqlite3_bind_int64(stmt, 8, ended_us);
	rc |= sqlite3_bind_text(stmt, 9, outcome, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 10, detail, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_blob(stmt, 11, raw, sizeof(raw), SQLITE_TRANSIENT);
	if (!fst_db_check_bind(self, rc, what, error))
		return FALSE;
	if (!fst_db_step_done(self, stmt, what, error))
		return FALSE;
	/* written to `audit-head` by fst_db_commit() */
	self->head_id = row.id;
	g_strlcpy(self->head_hash, hash, sizeof(self->head_hash));
	self->head_dirty = TRUE;
	return TRUE;
}

/* finds a certificate by normalised serial; *found is FALSE if it is not there */
static gboolean
fst_db_get_cert_locked(FstDb *self,
                       const gchar *serial,
                       gboolean *found,
                       gint64 *cert_id,
                       gint64 *device_id,
                       FstCertState *state,
                       GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *what = NULL;
	const gchar *state_str;

	/* the objects of a certificate logged in the same commit */
	if (self->tx_cert_serial[0] != '\0' && g_strcmp0(serial, self->tx_cert_serial) == 0) {
		*found = TRUE;
		*cert_id = self->tx_cert_id;
		*device_id = self->tx_cert_device;
		*state = self->tx_cert_state;
		return TRUE;
	}
	what = g_strdup_printf("look up certificate %s", serial);
	stmt = fst_db_prepare(self,
	                      "SELECT id, device_id, state FROM certificates WHERE serial_hex = ?1",
	                      what,
	                      error);
	if (stmt == NULL)
		return FALSE;
	if (!fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_TRANSIENT), what, error))
		return FALSE;
	if (!fst_db_step_row(self, stmt, found, what, error))
		return FALSE;
	if (!*found)
		return TRUE;
	*cert_id = sqlite3_column_int64(stmt, 0);
	*device_id = sqlite3_column_int64(stmt, 1);
	state_str = (const gchar *)sqlite3_column_text(stmt, 2);
	if (!fst_cert_state_from_string(state_str, state)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "certificate %s in %s has unknown state '%s': restore the database "
		            "from a backup",
		            serial,
		            self->path,
		            state_str != NULL ? state_str : "(null)");
		return FALSE;
	}
	fst_db_remember_cert(self, serial, *cert_id, *device_id, *state);
	return TRUE;
}

/* moves a certificate to @to and records an event; the caller holds a transaction */
static gboolean
fst_db_move_cert_locked(FstDb *self,
                        gint64 cert_id,
                        gint64 device_id,
                        const gchar *serial,
                        FstCertState from,
                        FstCertState to,
                        const gchar *reason,
                        const gchar *note,
                        GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *what =
	    g_strdup_printf("set certificate %s to %s", serial, fst_cert_state_to_string(to));
	g_autofree gchar *detail = NULL;
	gint64 now = g_get_real_time();
	gint rc;

	if (!fst_cert_state_can_move(from, to)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s is %s and cannot become %s: certificates only move "
		            "forward, only a verified or registered one can be superseded, and a "
		            "revoked one stays revoked",
		            serial,
		            fst_cert_state_to_string(from),
		            fst_cert_state_to_string(to));
		return FALSE;
	}
	if (from == to)
		return TRUE;
	if (to == FST_CERT_STATE_REVOKED && reason == NULL)
		reason = "unspecified";
	stmt = fst_db_prepare(self,
	                      "UPDATE certificates SET state = ?1, updated_at = ?2, "
	                      "revoked_at = CASE WHEN ?1 = 'revoked' THEN ?2 ELSE revoked_at END, "
	                      "revocation_reason = ?4 WHERE id = ?3",
	                      what,
	                      error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_text(stmt, 1, fst_cert_state_to_string(to), -1, SQLITE_STATIC);
	rc |= sqlite3_bind_int64(stmt, 2, now);
	rc |= sqlite3_bind_int64(stmt, 3, cert_id);
	rc |= sqlite3_bind_text(stmt, 4, reason, -1, SQLITE_TRANSIENT);
	if (!fst_db_check_bind(self, rc, what, error))
		return FALSE;
	if (!fst_db_step_done(self, stmt, what, error))
		return FALSE;
	if (self->tx_cert_id == cert_id && self->tx_cert_serial[0] != '\0')
		self->tx_cert_state = to;
	detail = g_strdup_printf("certificate %s: %s -> %s%s%s%s%s%s%s",
	                         serial,
	                         fst_cert_state_to_string(from),
	                         fst_cert_state_to_string(to),
	                         reason != NULL ? " (reason: " : "",
	                         reason != NULL ? reason : "",
	                         reason != NULL ? ")" : "",
	                         note != NULL ? " (" : "",
	                         note != NULL ? note : "",
	                         note != NULL ? ")" : "");
	return fst_db_insert_event_locked(
	    self, device_id, 0, "certificate-state", now, now, "ok", detail, error);
}

/**
 * fst_db_set_certificate_state:
 * @self: an #FstDb
 * @serial_hex: the certificate serial, any case
 * @state: the new state
 * @error: (nullable): return location for a #GError
 *
 * Moves a certificate forward (issued, burned, verified, registered) or to
 * revoked, and records a `certificate-state` event in the same transaction.
 * Setting the current state again does nothing.
 *
 * Fails with %FST_ERROR_NOT_FOUND for an unknown serial and
 * %FST_ERROR_INVALID_DATA for a move backwards or out of revoked.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_set_certificate_state(FstDb *self,
                             const gchar *serial_hex,
                             FstCertState state,
                             GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *what = NULL;
	FstCertState from = FST_CERT_STATE_ISSUED;
	gint64 cert_id = 0;
	gint64 device_id = 0;
	gboolean found = FALSE;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail((guint)state < FST_CERT_STATE_LAST, FALSE);

	serial = fst_db_normalize_hex(
	    "certificate serial", serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (serial == NULL)
		return FALSE;
	what = g_strdup_printf("set certificate %s to %s", serial, fst_cert_state_to_string(state));

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!fst_db_begin(self, what, error))
		return FALSE;
	if (!fst_db_get_cert_locked(self, serial, &found, &cert_id, &device_id, &from, error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	if (!found) {
		fst_db_rollback(self);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "certificate %s is not in %s: record it with fst_db_add_certificate() "
		            "first",
		            serial,
		            self->path);
		return FALSE;
	}
	if (!fst_db_move_cert_locked(
	        self, cert_id, device_id, serial, from, state, NULL, NULL, error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	return fst_db_commit(self, what, error);
}

/**
 * fst_db_add_object:
 * @self: an #FstDb
 * @device_id: the device written to
 * @serial_hex: (nullable): the certificate the object belongs to
 * @kind: what was written
 * @data: the exact bytes written; only their SHA-256 and length are stored
 * @contents: (nullable): a description, e.g. the comma-separated SHA-256
 *   fingerprints of the certificates in the object
 * @error: (nullable): return location for a #GError
 *
 * Records an object burned into the device. It does not change any state:
 * use fst_db_set_certificate_state() for that.
 *
 * Fails with %FST_ERROR_NOT_FOUND if the device or certificate is unknown or
 * the certificate belongs to another device.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_add_object(FstDb *self,
                  gint64 device_id,
                  const gchar *serial_hex,
                  FstObjectKind kind,
                  GBytes *data,
                  const gchar *contents,
                  GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *sha256 = NULL;
	g_autofree gchar *what = NULL;
	FstCertState state = FST_CERT_STATE_ISSUED;
	gint64 station_id = 0;
	gint64 cert_id = 0;
	gint64 cert_device = 0;
	gsize len = 0;
	gconstpointer buf;
	gint rc;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(data != NULL, FALSE);

	if (kind < FST_OBJECT_DEVICE_CERT || kind >= FST_OBJECT_LAST) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "object kind %d is not one the database knows",
		            (gint)kind);
		return FALSE;
	}
	if (serial_hex != NULL) {
		serial = fst_db_normalize_hex(
		    "certificate serial", serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
		if (serial == NULL)
			return FALSE;
	}
	if (!fst_db_check_text(
	        "object contents", contents, FST_DB_MAX_CONTENTS, FALSE, FALSE, error))
		return FALSE;
	buf = g_bytes_get_data(data, &len);
	sha256 = g_compute_checksum_for_data(G_CHECKSUM_SHA256, buf != NULL ? buf : "", len);
	what = g_strdup_printf("record %s written to device %" G_GINT64_FORMAT,
	                       fst_object_kind_to_string(kind),
	                       device_id);

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!fst_db_begin(self, what, error))
		return FALSE;
	if (!fst_db_require_device_locked(self, device_id, &station_id, error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	if (serial != NULL) {
		gboolean found = FALSE;
		if (!fst_db_get_cert_locked(
		        self, serial, &found, &cert_id, &cert_device, &state, error)) {
			fst_db_rollback(self);
			return FALSE;
		}
		if (!found || cert_device != device_id) {
			fst_db_rollback(self);
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_NOT_FOUND,
			            "certificate %s is not recorded for device %" G_GINT64_FORMAT
			            " in %s: record it before writing it",
			            serial,
			            device_id,
			            self->path);
			return FALSE;
		}
	}
	stmt =
	    fst_db_prepare(self,
	                   "INSERT INTO device_objects (device_id, certificate_id, kind, sha256, "
	                   "length, contents, station_id, written_at) VALUES (?1, ?2, ?3, ?4, "
	                   "?5, ?6, ?7, ?8)",
	                   what,
	                   error);
	if (stmt == NULL) {
		fst_db_rollback(self);
		return FALSE;
	}
	rc = sqlite3_bind_int64(stmt, 1, device_id);
	rc |= fst_db_bind_id(stmt, 2, cert_id);
	rc |= sqlite3_bind_text(stmt, 3, fst_object_kind_to_string(kind), -1, SQLITE_STATIC);
	rc |= sqlite3_bind_text(stmt, 4, sha256, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 5, (gint64)len);
	rc |= sqlite3_bind_text(stmt, 6, contents, -1, SQLITE_TRANSIENT);
	rc |= fst_db_bind_id(stmt, 7, station_id);
	rc |= sqlite3_bind_int64(stmt, 8, g_get_real_time());
	if (!fst_db_check_bind(self, rc, what, error) ||
	    !fst_db_step_done(self, stmt, what, error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	return fst_db_commit(self, what, error);
}

/**
 * fst_db_add_event:
 * @self: an #FstDb
 * @device_id: the device, or 0 for a station-wide event
 * @step: a lower-case step name, e.g. "identify" or "burn-device-cert"
 * @started_us: when the step started, unix microseconds (g_get_real_time())
 * @ended_us: when it ended, not before @started_us
 * @outcome: a lower-case outcome: "ok", "failed", "cancelled", ...
 * @detail: (nullable): free text, kept to 16 KiB; never put a secret here
 * @error: (nullable): return location for a #GError
 *
 * Appends an event. Events are kept in the order they are added.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_add_event(FstDb *self,
                 gint64 device_id,
                 const gchar *step,
                 gint64 started_us,
                 gint64 ended_us,
                 const gchar *outcome,
                 const gchar *detail,
                 GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autofree gchar *detail_safe = NULL;
	g_autofree gchar *what = NULL;
	gint64 station_id = 0;

	g_return_val_if_fail(self != NULL, FALSE);

	if (!fst_db_check_token("step", step, error) ||
	    !fst_db_check_token("outcome", outcome, error))
		return FALSE;
	if (started_us <= 0 || ended_us < started_us) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "event %s has times %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
		            ": pass microseconds from g_get_real_time() with end not before start",
		            step,
		            started_us,
		            ended_us);
		return FALSE;
	}
	if (detail != NULL)
		detail_safe = fst_db_text_bounded(detail, FST_DB_MAX_DETAIL);
	what = g_strdup_printf("record event %s", step);

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!fst_db_begin(self, what, error))
		return FALSE;
	if (device_id > 0 && !fst_db_require_device_locked(self, device_id, &station_id, error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	if (!fst_db_insert_event_locked(self,
	                                device_id,
	                                station_id,
	                                step,
	                                started_us,
	                                ended_us,
	                                outcome,
	                                detail_safe,
	                                error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	return fst_db_commit(self, what, error);
}

static gboolean
fst_db_set_device_state_locked(
    FstDb *self, gint64 device_id, const gchar *state, const gchar *last_error, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *what =
	    g_strdup_printf("mark device %" G_GINT64_FORMAT " %s", device_id, state);
	gint rc;

	stmt = fst_db_prepare(self,
	                      "UPDATE devices SET state = ?1, last_error = ?2, updated_at = ?3 "
	                      "WHERE id = ?4",
	                      what,
	                      error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_text(stmt, 1, state, -1, SQLITE_STATIC);
	rc |= sqlite3_bind_text(stmt, 2, last_error, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 3, g_get_real_time());
	rc |= sqlite3_bind_int64(stmt, 4, device_id);
	if (!fst_db_check_bind(self, rc, what, error))
		return FALSE;
	return fst_db_step_done(self, stmt, what, error);
}

static gboolean
fst_db_finish_ok_locked(FstDb *self,
                        gint64 device_id,
                        gint64 station_id,
                        const gchar *serial,
                        gint64 started_us,
                        GError **error)
{
	FstCertState from = FST_CERT_STATE_ISSUED;
	FstCertState to = FST_CERT_STATE_VERIFIED;
	gint64 cert_id = 0;
	gint64 cert_device = 0;
	gboolean found = FALSE;
	g_autofree gchar *detail = NULL;

	if (!fst_db_get_cert_locked(self, serial, &found, &cert_id, &cert_device, &from, error))
		return FALSE;
	if (!found || cert_device != device_id) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "certificate %s is not recorded for device %" G_GINT64_FORMAT
		            " in %s: cannot mark the device provisioned with it",
		            serial,
		            device_id,
		            self->path);
		return FALSE;
	}
	/* a certificate already registered stays registered */
	if (from == FST_CERT_STATE_REGISTERED)
		to = from;
	if (!fst_db_move_cert_locked(self, cert_id, device_id, serial, from, to, NULL, NULL, error))
		return FALSE;
	if (!fst_db_set_device_state_locked(self, device_id, "provisioned", NULL, error))
		return FALSE;
	detail = g_strdup_printf("certificate %s", serial);
	return fst_db_insert_event_locked(self,
	                                  device_id,
	                                  station_id,
	                                  "provisioned",
	                                  started_us,
	                                  g_get_real_time(),
	                                  "ok",
	                                  detail,
	                                  error);
}

/* the newest certificate in service (verified or registered) of a device;
 * *found is FALSE when it has none */
static gboolean
fst_db_get_active_cert_locked(
    FstDb *self, gint64 device_id, gboolean *found, gchar **serial, gint *slot, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "look up the certificate in service";

	stmt = fst_db_prepare(self,
	                      "SELECT serial_hex, slot FROM certificates WHERE device_id = ?1 AND "
	                      "state IN ('verified', 'registered') ORDER BY id DESC LIMIT 1",
	                      what,
	                      error);
	if (stmt == NULL)
		return FALSE;
	if (!fst_db_check_bind(self, sqlite3_bind_int64(stmt, 1, device_id), what, error))
		return FALSE;
	if (!fst_db_step_row(self, stmt, found, what, error))
		return FALSE;
	if (*found) {
		*serial = fst_db_column_strdup(stmt, 0);
		*slot = sqlite3_column_int(stmt, 1);
	}
	return TRUE;
}

static gchar *
fst_db_get_device_uid_locked(FstDb *self, gint64 device_id)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	gboolean found = FALSE;

	stmt =
	    fst_db_prepare(self, "SELECT uid FROM devices WHERE id = ?1", "look up a device", NULL);
	if (stmt == NULL || sqlite3_bind_int64(stmt, 1, device_id) != SQLITE_OK ||
	    !fst_db_step_row(self, stmt, &found, "look up a device", NULL) || !found)
		return g_strdup_printf("%" G_GINT64_FORMAT, device_id);
	return fst_db_column_strdup(stmt, 0);
}

/* a job without a new certificate (e.g. rewriting the trust roots) ended
 * well: the device is provisioned again if a certificate is in service */
static gboolean
fst_db_finish_job_locked(
    FstDb *self, gint64 device_id, gint64 station_id, gint64 started_us, GError **error)
{
	g_autofree gchar *serial = NULL;
	g_autofree gchar *detail = NULL;
	gboolean found = FALSE;
	gint slot = 0;

	if (!fst_db_get_active_cert_locked(self, device_id, &found, &serial, &slot, error))
		return FALSE;
	if (!found) {
		g_autofree gchar *uid = fst_db_get_device_uid_locked(self, device_id);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "device %s has no verified or registered certificate in %s: a job "
		            "without a new certificate cannot mark it provisioned; provision it "
		            "with a certificate instead",
		            uid,
		            self->path);
		return FALSE;
	}
	if (!fst_db_set_device_state_locked(self, device_id, "provisioned", NULL, error))
		return FALSE;
	detail = g_strdup_printf(
	    "no new certificate; certificate %s stays in service (slot %c)", serial, 'A' + slot);
	return fst_db_insert_event_locked(self,
	                                  device_id,
	                                  station_id,
	                                  "provisioned",
	                                  started_us,
	                                  g_get_real_time(),
	                                  "ok",
	                                  detail,
	                                  error);
}

/* looks up a certificate that must belong to @device_id: NOT_FOUND when it
 * is not recorded, INVALID_DATA when it is another device's */
static gboolean
fst_db_get_device_cert_locked(FstDb *self,
                              gint64 device_id,
                              const gchar *serial,
                              const gchar *purpose,
                              gint64 *cert_id,
                              FstCertState *state,
                              GError **error)
{
	gint64 cert_device = 0;
	gboolean found = FALSE;

	if (!fst_db_get_cert_locked(self, serial, &found, cert_id, &cert_device, state, error))
		return FALSE;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "certificate %s is not in %s: cannot %s",
		            serial,
		            self->path,
		            purpose);
		return FALSE;
	}
	if (cert_device != device_id) {
		g_autofree gchar *uid = fst_db_get_device_uid_locked(self, device_id);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s belongs to another device than %s: cannot %s",
		            serial,
		            uid,
		            purpose);
		return FALSE;
	}
	return TRUE;
}

/* @old moves to superseded (by @new_serial) and is queued for deactivation
 * wherever it is registered: one `deactivate` row per target it has a
 * `register` row for, or one with target `*` if it has none */
static gboolean
fst_db_supersede_locked(
    FstDb *self, gint64 device_id, const gchar *old_hex, const gchar *new_hex, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *old_serial = NULL;
	g_autofree gchar *new_serial = NULL;
	g_autofree gchar *note = NULL;
	g_autofree gchar *what = NULL;
	FstCertState from = FST_CERT_STATE_ISSUED;
	FstCertState new_state = FST_CERT_STATE_ISSUED;
	gint64 old_id = 0;
	gint64 new_id = 0;
	gint64 now = g_get_real_time();
	gint rc;

	old_serial = fst_db_normalize_hex(
	    "superseded certificate serial", old_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (old_serial == NULL)
		return FALSE;
	new_serial = fst_db_normalize_hex(
	    "superseding certificate serial", new_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (new_serial == NULL)
		return FALSE;
	if (g_strcmp0(old_serial, new_serial) == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s cannot supersede itself",
		            old_serial);
		return FALSE;
	}
	what = g_strdup_printf("supersede certificate %s by %s", old_serial, new_serial);
	if (!fst_db_get_device_cert_locked(
	        self, device_id, new_serial, what, &new_id, &new_state, error) ||
	    !fst_db_get_device_cert_locked(
	        self, device_id, old_serial, what, &old_id, &from, error))
		return FALSE;
	if (from == FST_CERT_STATE_SUPERSEDED)
		return TRUE; /* already queued when it was superseded */
	note = g_strdup_printf("by %s", new_serial);
	if (!fst_db_move_cert_locked(self,
	                             old_id,
	                             device_id,
	                             old_serial,
	                             from,
	                             FST_CERT_STATE_SUPERSEDED,
	                             NULL,
	                             note,
	                             error))
		return FALSE;
	stmt = fst_db_prepare(
	    self,
	    "INSERT OR IGNORE INTO registrations (certificate_id, target, action, state, "
	    "created_at, updated_at) SELECT ?1, t.target, 'deactivate', 'pending', ?2, ?2 FROM "
	    "(SELECT DISTINCT target FROM registrations WHERE certificate_id = ?1 AND "
	    "action = 'register' UNION SELECT '*' WHERE NOT EXISTS (SELECT 1 FROM registrations "
	    "WHERE certificate_id = ?1 AND action = 'register')) t ORDER BY t.target",
	    what,
	    error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, old_id);
	rc |= sqlite3_bind_int64(stmt, 2, now);
	if (!fst_db_check_bind(self, rc, what, error))
		return FALSE;
	return fst_db_step_done(self, stmt, what, error);
}

/* the CMS EnvelopedData of a certificate's private key, encrypted to the
 * escrow certificate whose DER hashes to @recipient_hex; with an `escrow`
 * event that puts its hash in the audit chain */
static gboolean
fst_db_add_escrow_locked(FstDb *self,
                         gint64 device_id,
                         gint64 station_id,
                         const gchar *serial_hex,
                         const gchar *recipient_hex,
                         GBytes *cms,
                         GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *recipient = NULL;
	g_autofree gchar *what = NULL;
	g_autofree gchar *cms_sha256 = NULL;
	g_autofree gchar *detail = NULL;
	FstCertState state = FST_CERT_STATE_ISSUED;
	gint64 cert_id = 0;
	gint64 now = g_get_real_time();
	gconstpointer buf = NULL;
	gsize len = 0;
	gint rc;

	serial = fst_db_normalize_hex(
	    "escrowed certificate serial", serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (serial == NULL)
		return FALSE;
	recipient = fst_db_normalize_hex("escrow recipient SHA-256",
	                                 recipient_hex,
	                                 FST_DB_SHA256_HEX,
	                                 FST_DB_SHA256_HEX,
	                                 FALSE,
	                                 error);
	if (recipient == NULL)
		return FALSE;
	if (cms != NULL)
		buf = g_bytes_get_data(cms, &len);
	if (len == 0 || len > FST_DB_MAX_ESCROW) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "the key escrow of certificate %s has %" G_GSIZE_FORMAT
		            " bytes of CMS, expected 1 to %u: refusing to record it",
		            serial,
		            len,
		            (guint)FST_DB_MAX_ESCROW);
		return FALSE;
	}
	what = g_strdup_printf("record the key escrow of certificate %s", serial);
	if (!fst_db_get_device_cert_locked(self, device_id, serial, what, &cert_id, &state, error))
		return FALSE;
	stmt = fst_db_prepare(self,
	                      "INSERT INTO key_escrows (certificate_id, recipient_sha256, cms, "
	                      "created_at) VALUES (?1, ?2, ?3, ?4)",
	                      what,
	                      error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, cert_id);
	rc |= sqlite3_bind_text(stmt, 2, recipient, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_blob64(stmt, 3, buf, len, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 4, now);
	if (!fst_db_check_bind(self, rc, what, error) || !fst_db_step_done(self, stmt, what, error))
		return FALSE;
	cms_sha256 = g_compute_checksum_for_data(G_CHECKSUM_SHA256, buf, len);
	detail = g_strdup_printf(
	    "certificate %s: key escrowed to %s (cms sha256 %s, %" G_GSIZE_FORMAT " bytes)",
	    serial,
	    recipient,
	    cms_sha256,
	    len);
	return fst_db_insert_event_locked(
	    self, device_id, station_id, "escrow", now, now, "ok", detail, error);
}

static gboolean
fst_db_finish_failed_locked(FstDb *self,
                            gint64 device_id,
                            gint64 station_id,
                            const gchar *serial,
                            const GError *failure,
                            gint64 started_us,
                            GError **error)
{
	g_autofree gchar *message = fst_db_text_bounded(failure->message, FST_DB_MAX_DETAIL);
	g_autoptr(GString) detail = g_string_new(NULL);
	gboolean cancelled = g_error_matches(failure, FST_ERROR, FST_ERROR_CANCELLED);

	if (failure->domain == FST_ERROR)
		g_string_append_printf(
		    detail, "%s: ", fst_error_code_to_string((FstError)failure->code));
	g_string_append(detail, message);

	/* say what became of the certificate, which keeps its state */
	if (serial != NULL) {
		FstCertState state = FST_CERT_STATE_ISSUED;
		gint64 cert_id = 0;
		gint64 cert_device = 0;
		gboolean found = FALSE;
		if (!fst_db_get_cert_locked(
		        self, serial, &found, &cert_id, &cert_device, &state, error))
			return FALSE;
		if (found && cert_device == device_id)
			g_string_append_printf(detail,
			                       " (certificate %s kept as %s)",
			                       serial,
			                       fst_cert_state_to_string(state));
		else
			g_string_append_printf(
			    detail, " (certificate %s was not recorded)", serial);
	}
	if (!fst_db_set_device_state_locked(self, device_id, "failed", message, error))
		return FALSE;
	return fst_db_insert_event_locked(self,
	                                  device_id,
	                                  station_id,
	                                  "failed",
	                                  started_us,
	                                  g_get_real_time(),
	                                  cancelled ? "cancelled" : "failed",
	                                  detail->str,
	                                  error);
}

/**
 * fst_db_finish_device:
 * @self: an #FstDb
 * @device_id: the device, from fst_db_begin_device()
 * @serial_hex: (nullable): its certificate; %NULL for a job that wrote no
 *   certificate (e.g. only the trust roots)
 * @failure: (nullable): why provisioning failed, or %NULL if it succeeded
 * @error: (nullable): return location for a #GError
 *
 * Ends provisioning in one transaction. On success the certificate becomes
 * `verified` (a `registered` one stays so), the device `provisioned` with its
 * last error cleared, and a `provisioned` event is added. Success without a
 * serial ends a job without a certificate: the device goes back to (or stays)
 * `provisioned` if it has a certificate in service (verified or registered),
 * else the call fails with %FST_ERROR_INVALID_DATA naming the device. On failure the
 * device becomes `failed` with `last_error` = @failure->message and a
 * `failed` event is added (outcome `cancelled` for %FST_ERROR_CANCELLED);
 * the certificate keeps its state, so an issued certificate is never lost.
 *
 * Fails with %FST_ERROR_NOT_FOUND for an unknown device, or on success for a
 * certificate not recorded for this device; nothing is changed then.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_finish_device(
    FstDb *self, gint64 device_id, const gchar *serial_hex, const GError *failure, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *what = NULL;
	gint64 station_id = 0;
	gint64 now = g_get_real_time();
	gboolean ok;

	g_return_val_if_fail(self != NULL, FALSE);

	if (serial_hex != NULL) {
		serial = fst_db_normalize_hex(
		    "certificate serial", serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
		if (serial == NULL)
			return FALSE;
	}
	what = g_strdup_printf("finish device %" G_GINT64_FORMAT, device_id);

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!fst_db_begin(self, what, error))
		return FALSE;
	ok = fst_db_require_device_locked(self, device_id, &station_id, error);
	if (ok && failure == NULL && serial == NULL)
		ok = fst_db_finish_job_locked(self, device_id, station_id, now, error);
	else if (ok && failure == NULL)
		ok = fst_db_finish_ok_locked(self, device_id, station_id, serial, now, error);
	else if (ok)
		ok = fst_db_finish_failed_locked(
		    self, device_id, station_id, serial, failure, now, error);
	if (!ok) {
		fst_db_rollback(self);
		return FALSE;
	}
	return fst_db_commit(self, what, error);
}

/* the device log: a device's records gathered in memory, written in one
 * transaction by fst_db_device_log_commit() */

typedef enum {
	FST_DB_LOG_EVENT,
	FST_DB_LOG_CERTIFICATE,
	FST_DB_LOG_OBJECT,
	FST_DB_LOG_STATE,
	FST_DB_LOG_FINISH,
	FST_DB_LOG_ESCROW,
	FST_DB_LOG_SUPERSEDE,
} FstDbLogKind;

typedef struct {
	FstDbLogKind kind;
	gchar *step; /* (nullable) */
	gint64 started_us;
	gint64 ended_us;
	gchar *outcome;    /* (nullable) */
	gchar *detail;     /* (nullable) */
	FstDbCert *cert;   /* (nullable) (owned) */
	gchar *serial_hex; /* (nullable) */
	gchar *other_hex;  /* (nullable): the recipient hash (escrow), the new serial (supersede) */
	FstObjectKind object;
	GBytes *data;    /* (nullable) (owned) */
	gchar *contents; /* (nullable) */
	FstCertState state;
	GError *failure; /* (nullable) (owned) */
} FstDbLogOp;

static void
fst_db_log_op_free(gpointer data)
{
	FstDbLogOp *op = data;
	g_free(op->step);
	g_free(op->outcome);
	g_free(op->detail);
	fst_db_cert_free(op->cert);
	g_free(op->serial_hex);
	g_free(op->other_hex);
	if (op->data != NULL)
		g_bytes_unref(op->data);
	g_free(op->contents);
	g_clear_error(&op->failure);
	g_free(op);
}

struct _FstDbDeviceLog {
	gint64 station_id;
	FstDeviceInfo *info; /* (owned): a copy, so the device may identify again */
	gchar *port;               /* (nullable) */
	gint64 device_id;          /* 0 until the first commit */
	GPtrArray *ops;            /* (element-type FstDbLogOp) (owned): not committed yet */
	GPtrArray *supersedes; /* (element-type FstDbLogOp) (owned): applied with the finish */
};

/**
 * fst_db_device_log_new:
 * @station_id: the station provisioning the device, or 0
 * @info: (transfer none): what the device said about itself; the log keeps a copy
 * @port: (nullable): the port it is on
 * @error: (nullable): return location for a #GError
 *
 * Starts the log of one provisioning attempt. Nothing is written until
 * fst_db_device_log_commit(), whose first call records the device (as
 * fst_db_begin_device() does) in the same transaction as what was logged.
 * The device strings are checked now, so that a device the database would
 * refuse is refused before anything is issued for it.
 *
 * Fails with %FST_ERROR_INVALID_DATA as fst_db_begin_device() does.
 *
 * Returns: (transfer full): a new log, or %NULL on error
 */
FstDbDeviceLog *
fst_db_device_log_new(gint64 station_id,
                      const FstDeviceInfo *info,
                      const gchar *port,
                      GError **error)
{
	FstDbDeviceLog *self;

	g_return_val_if_fail(info != NULL, NULL);

	if (!fst_db_check_device_info(info, port, error))
		return NULL;
	self = g_new0(FstDbDeviceLog, 1);
	self->station_id = station_id;
	self->info = fst_device_info_copy(info);
	self->port = g_strdup(port);
	self->ops = g_ptr_array_new_with_free_func(fst_db_log_op_free);
	self->supersedes = g_ptr_array_new_with_free_func(fst_db_log_op_free);
	return self;
}

/**
 * fst_db_device_log_free:
 * @self: (nullable): a log
 *
 * Frees the log; whatever was not committed is dropped.
 */
void
fst_db_device_log_free(FstDbDeviceLog *self)
{
	if (self == NULL)
		return;
	fst_device_info_free(self->info);
	g_free(self->port);
	g_ptr_array_unref(self->ops);
	g_ptr_array_unref(self->supersedes);
	g_free(self);
}

/**
 * fst_db_device_log_get_device_id:
 * @self: a log
 *
 * Returns: the device id, or 0 before the first successful commit
 */
gint64
fst_db_device_log_get_device_id(FstDbDeviceLog *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->device_id;
}

/**
 * fst_db_device_log_get_pending:
 * @self: a log
 *
 * Returns: how many records wait for fst_db_device_log_commit()
 */
guint
fst_db_device_log_get_pending(FstDbDeviceLog *self)
{
	g_return_val_if_fail(self != NULL, 0);
	return self->ops->len;
}

static FstDbLogOp *
fst_db_device_log_append(FstDbDeviceLog *self, FstDbLogKind kind)
{
	FstDbLogOp *op = g_new0(FstDbLogOp, 1);
	op->kind = kind;
	g_ptr_array_add(self->ops, op);
	return op;
}

/**
 * fst_db_device_log_add_event:
 * @self: a log
 * @step: a lower-case step name
 * @started_us: when the step started, unix microseconds
 * @ended_us: when it ended
 * @outcome: a lower-case outcome: "ok", "failed", ...
 * @detail: (nullable): free text; never a secret
 *
 * Logs an event, written by the next commit as fst_db_add_event() would,
 * in the audit chain at the place of that commit. Bad arguments fail the
 * commit.
 */
void
fst_db_device_log_add_event(FstDbDeviceLog *self,
                            const gchar *step,
                            gint64 started_us,
                            gint64 ended_us,
                            const gchar *outcome,
                            const gchar *detail)
{
	FstDbLogOp *op;

	g_return_if_fail(self != NULL);

	op = fst_db_device_log_append(self, FST_DB_LOG_EVENT);
	op->step = g_strdup(step);
	op->started_us = started_us;
	op->ended_us = ended_us;
	op->outcome = g_strdup(outcome);
	op->detail = g_strdup(detail);
}

/**
 * fst_db_device_log_add_certificate:
 * @self: a log
 * @cert: (transfer none): the certificate, copied; see fst_db_add_certificate()
 *
 * Logs a newly issued certificate. It is on disk only once the commit that
 * follows returned: commit before any byte of it goes to the device.
 */
void
fst_db_device_log_add_certificate(FstDbDeviceLog *self, const FstDbCert *cert)
{
	FstDbLogOp *op;
	FstDbCert *copy;

	g_return_if_fail(self != NULL);
	g_return_if_fail(cert != NULL);

	copy = g_new0(FstDbCert, 1);
	copy->serial_hex = g_strdup(cert->serial_hex);
	copy->der = cert->der != NULL ? g_bytes_ref(cert->der) : NULL;
	copy->aws_cert_id = g_strdup(cert->aws_cert_id);
	copy->subject = g_strdup(cert->subject);
	copy->key_type = g_strdup(cert->key_type);
	copy->not_before = cert->not_before;
	copy->not_after = cert->not_after;
	copy->issuer_sha256 = g_strdup(cert->issuer_sha256);
	copy->profile = g_strdup(cert->profile);
	copy->profile_sha256 = g_strdup(cert->profile_sha256);
	copy->slot = cert->slot;
	copy->register_target = g_strdup(cert->register_target);
	op = fst_db_device_log_append(self, FST_DB_LOG_CERTIFICATE);
	op->cert = copy;
}

/**
 * fst_db_device_log_add_object:
 * @self: a log
 * @serial_hex: (nullable): the certificate the object belongs to
 * @kind: what is written
 * @data: the exact bytes; only their SHA-256 and length are kept
 * @contents: (nullable): a description
 *
 * Logs an object to be written into the device (see fst_db_add_object());
 * commit before the device is asked to store it.
 */
void
fst_db_device_log_add_object(FstDbDeviceLog *self,
                             const gchar *serial_hex,
                             FstObjectKind kind,
                             GBytes *data,
                             const gchar *contents)
{
	FstDbLogOp *op;

	g_return_if_fail(self != NULL);
	g_return_if_fail(data != NULL);

	op = fst_db_device_log_append(self, FST_DB_LOG_OBJECT);
	op->serial_hex = g_strdup(serial_hex);
	op->object = kind;
	op->data = g_bytes_ref(data);
	op->contents = g_strdup(contents);
}

/**
 * fst_db_device_log_set_certificate_state:
 * @self: a log
 * @serial_hex: the certificate
 * @state: the state it moves to, as fst_db_set_certificate_state()
 *
 * Logs a certificate state move; a refused move fails the commit.
 */
void
fst_db_device_log_set_certificate_state(FstDbDeviceLog *self,
                                        const gchar *serial_hex,
                                        FstCertState state)
{
	FstDbLogOp *op;

	g_return_if_fail(self != NULL);

	op = fst_db_device_log_append(self, FST_DB_LOG_STATE);
	op->serial_hex = g_strdup(serial_hex);
	op->state = state;
}

/**
 * fst_db_device_log_finish:
 * @self: a log
 * @serial_hex: (nullable): the device's certificate; %NULL for a job that
 *   wrote no certificate (e.g. only the trust roots)
 * @failure: (nullable): why provisioning failed, or %NULL if it succeeded
 *
 * Logs the end of the attempt, as fst_db_finish_device(): the final states
 * are written by the next commit, in the same transaction as the rest.
 * Without a serial and without a failure, the device goes back to (or stays)
 * `provisioned` if it has a certificate in service, else that commit fails
 * with %FST_ERROR_INVALID_DATA naming the device. A successful finish also
 * applies what fst_db_device_log_supersede() logged.
 */
void
fst_db_device_log_finish(FstDbDeviceLog *self, const gchar *serial_hex, const GError *failure)
{
	FstDbLogOp *op;

	g_return_if_fail(self != NULL);

	op = fst_db_device_log_append(self, FST_DB_LOG_FINISH);
	op->serial_hex = g_strdup(serial_hex);
	op->failure = failure != NULL ? g_error_copy(failure) : NULL;
}

/**
 * fst_db_device_log_supersede:
 * @self: a log
 * @old_serial_hex: the device's certificate that the new one replaces
 * @new_serial_hex: the new certificate, recorded for the same device
 *
 * Logs that the new certificate replaced @old_serial_hex on the device: call
 * it once the old credentials are gone from the device (the new device
 * certificate committed over them in the same slot, or the device switched
 * to the new slot). It is applied by the commit that holds
 * fst_db_device_log_finish(), whether the attempt passed or failed (a device
 * whose old certificate was overwritten before a later step failed no longer
 * holds it), in that transaction: the old certificate moves from verified or
 * registered to `superseded` (its `certificate-state` event says "(by
 * NEW)"), and it is queued for deactivation in the cloud: one
 * `registrations` row with action `deactivate` per target it has a
 * `register` row for, or one with target `*` (wherever it is registered) if
 * it has none. An old certificate of another device, or one that cannot be
 * superseded (issued, burned, revoked), fails that commit, which then writes
 * nothing.
 */
void
fst_db_device_log_supersede(FstDbDeviceLog *self,
                            const gchar *old_serial_hex,
                            const gchar *new_serial_hex)
{
	FstDbLogOp *op;

	g_return_if_fail(self != NULL);

	op = g_new0(FstDbLogOp, 1);
	op->kind = FST_DB_LOG_SUPERSEDE;
	op->serial_hex = g_strdup(old_serial_hex);
	op->other_hex = g_strdup(new_serial_hex);
	g_ptr_array_add(self->supersedes, op);
}

/**
 * fst_db_device_log_add_escrow:
 * @self: a log
 * @serial_hex: the certificate whose private key is escrowed; logged before
 *   in this log, or already in the database, for the same device
 * @recipient_sha256: SHA-256 (hex) of the DER of the escrow certificate the
 *   CMS is encrypted to
 * @cms_der: (transfer none): the DER CMS EnvelopedData holding the private
 *   key, encrypted to that certificate only (1 byte to 64 KiB)
 *
 * Logs a key escrow, written by the next commit after everything else it
 * holds (so after a certificate logged in the same commit), with an `escrow`
 * event naming the recipient and the SHA-256 of the CMS. Log it before the
 * first commit, so that it is on disk with its certificate before anything
 * goes to the device. The database holds no clear secret: only the
 * recipient's private key opens the CMS. A bad serial or hash, a size out of
 * bounds, a certificate of another device or a second escrow for the same
 * certificate fail the commit.
 */
void
fst_db_device_log_add_escrow(FstDbDeviceLog *self,
                             const gchar *serial_hex,
                             const gchar *recipient_sha256,
                             GBytes *cms_der)
{
	FstDbLogOp *op;

	g_return_if_fail(self != NULL);

	op = fst_db_device_log_append(self, FST_DB_LOG_ESCROW);
	op->serial_hex = g_strdup(serial_hex);
	op->other_hex = g_strdup(recipient_sha256);
	op->data = cms_der != NULL ? g_bytes_ref(cms_der) : NULL;
}

/* what the attempt superseded, after its finish, in the commit's transaction
 * (db->batch > 0) */
static gboolean
fst_db_device_log_apply_supersedes(FstDb *db,
                                   FstDbDeviceLog *self,
                                   gint64 device_id,
                                   GError **error)
{
	for (guint i = 0; i < self->supersedes->len; i++) {
		FstDbLogOp *sup = g_ptr_array_index(self->supersedes, i);
		if (!fst_db_supersede_locked(db, device_id, sup->serial_hex, sup->other_hex, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
fst_db_device_log_apply(FstDb *db, gint64 device_id, FstDbLogOp *op, GError **error)
{
	switch (op->kind) {
	case FST_DB_LOG_EVENT:
		return fst_db_add_event(db,
		                        device_id,
		                        op->step,
		                        op->started_us,
		                        op->ended_us,
		                        op->outcome,
		                        op->detail,
		                        error);
	case FST_DB_LOG_CERTIFICATE:
		return fst_db_add_certificate(db, device_id, op->cert, error);
	case FST_DB_LOG_OBJECT:
		return fst_db_add_object(
		    db, device_id, op->serial_hex, op->object, op->data, op->contents, error);
	case FST_DB_LOG_STATE:
		return fst_db_set_certificate_state(db, op->serial_hex, op->state, error);
	case FST_DB_LOG_FINISH:
		return fst_db_finish_device(db, device_id, op->serial_hex, op->failure, error);
	case FST_DB_LOG_ESCROW: {
		gint64 station_id = 0;
		return fst_db_require_device_locked(db, device_id, &station_id, error) &&
		       fst_db_add_escrow_locked(db,
		                                device_id,
		                                station_id,
		                                op->serial_hex,
		                                op->other_hex,
		                                op->data,
		                                error);
	}
	case FST_DB_LOG_SUPERSEDE:
	default:
		break;
	}
	g_set_error(error, FST_ERROR, FST_ERROR_INTERNAL, "unknown device log record %d", op->kind);
	return FALSE;
}

/**
 * fst_db_device_log_commit:
 * @db: an #FstDb
 * @self: a log
 * @error: (nullable): return location for a #GError
 *
 * Writes what was logged since the last commit in one `BEGIN IMMEDIATE`
 * transaction, committed with synchronous=FULL: on disk when this returns.
 * The first commit also records the device (fst_db_begin_device()). Each
 * record is checked as the function it mirrors checks it, and the audit
 * chain grows as if they had been written one by one.
 *
 * The log is emptied whether or not the commit succeeds: on failure nothing
 * of it was written (the whole transaction is rolled back), and a device
 * that was not recorded yet is still not.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_device_log_commit(FstDb *db, FstDbDeviceLog *self, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(GPtrArray) ops = NULL;
	g_autofree gchar *what = NULL;
	gint64 device_id;
	gboolean ok = TRUE;
	gboolean finished = FALSE;

	g_return_val_if_fail(db != NULL, FALSE);
	g_return_val_if_fail(self != NULL, FALSE);

	ops = g_steal_pointer(&self->ops);
	self->ops = g_ptr_array_new_with_free_func(fst_db_log_op_free);
	device_id = self->device_id;
	if (ops->len == 0 && device_id > 0)
		return TRUE;
	what = g_strdup_printf("record device %s", self->info->uid);

	locker = g_rec_mutex_locker_new(&db->mutex);
	if (!fst_db_begin(db, what, error))
		return FALSE;
	db->batch++;
	if (device_id == 0) {
		device_id =
		    fst_db_begin_device(db, self->station_id, self->info, self->port, error);
		ok = device_id > 0;
	}
	/* escrows last, so that a certificate logged after its escrow is there */
	for (guint i = 0; ok && i < ops->len; i++) {
		FstDbLogOp *op = g_ptr_array_index(ops, i);
		if (op->kind == FST_DB_LOG_ESCROW)
			continue;
		ok = fst_db_device_log_apply(db, device_id, op, error);
		if (ok && op->kind == FST_DB_LOG_FINISH)
			ok = fst_db_device_log_apply_supersedes(db, self, device_id, error);
		if (op->kind == FST_DB_LOG_FINISH)
			finished = TRUE;
	}
	for (guint i = 0; ok && i < ops->len; i++) {
		FstDbLogOp *op = g_ptr_array_index(ops, i);
		if (op->kind == FST_DB_LOG_ESCROW)
			ok = fst_db_device_log_apply(db, device_id, op, error);
	}
	db->batch--;
	/* the attempt ended: what it superseded is written with it, or dropped */
	if (finished)
		g_ptr_array_set_size(self->supersedes, 0);
	if (!ok) {
		fst_db_rollback(db);
		g_prefix_error(error,
		               "recording device %s (nothing of this step was written): ",
		               self->info->uid);
		return FALSE;
	}
	if (!fst_db_commit(db, what, error))
		return FALSE;
	self->device_id = device_id;
	return TRUE;
}

/* reading */

#define FST_DB_DEVICE_SELECT                                                                       \
	"SELECT d.id, d.uid, d.model, d.firmware, d.port, d.state, d.last_error, "                 \
	"d.protocol_version, d.key_types, d.validation, d.station_id, d.created_at, "              \
	"d.updated_at, c.serial_hex, c.der, c.aws_cert_id, c.subject, c.key_type, "                \
	"c.not_before, c.not_after, a.sha256, p.name, c.state, c.created_at, "                     \
	"c.updated_at, o.name, l.name, c.id, c.revoked_at, c.revocation_reason, c.slot "           \
	"FROM devices d LEFT JOIN certificates c ON c.id = "                                       \
	"(SELECT max(id) FROM certificates WHERE device_id = d.id) "                               \
	"LEFT JOIN operators o ON o.id = d.operator_id LEFT JOIN lots l ON l.id = d.lot_id "       \
	"LEFT JOIN cas a ON a.id = c.ca_id LEFT JOIN profiles p ON p.id = c.profile_id "

static FstDbDevice *
fst_db_device_from_row(FstDb *self, sqlite3_stmt *stmt, GError **error)
{
	g_autoptr(FstDbDevice) dev = g_new0(FstDbDevice, 1);

	dev->id = sqlite3_column_int64(stmt, 0);
	dev->uid = fst_db_column_strdup(stmt, 1);
	dev->model = fst_db_column_strdup(stmt, 2);
	dev->firmware = fst_db_column_strdup(stmt, 3);
	dev->port = fst_db_column_strdup(stmt, 4);
	dev->state = fst_db_column_strdup(stmt, 5);
	dev->last_error = fst_db_column_strdup(stmt, 6);
	dev->protocol_version = (guint)CLAMP(sqlite3_column_int64(stmt, 7), 0, G_MAXUINT32);
	dev->key_types = fst_db_column_strdup(stmt, 8);
	dev->validation = fst_db_column_strdup(stmt, 9);
	dev->station_id = sqlite3_column_int64(stmt, 10);
	dev->created_at = sqlite3_column_int64(stmt, 11);
	dev->updated_at = sqlite3_column_int64(stmt, 12);
	dev->operator_name = fst_db_column_strdup(stmt, 25);
	dev->lot = fst_db_column_strdup(stmt, 26);

	if (sqlite3_column_type(stmt, 13) != SQLITE_NULL) {
		g_autoptr(FstDbCert) cert = g_new0(FstDbCert, 1);
		const gchar *state = (const gchar *)sqlite3_column_text(stmt, 22);
		gconstpointer der = sqlite3_column_blob(stmt, 14);
		gint der_len = sqlite3_column_bytes(stmt, 14);

		cert->serial_hex = fst_db_column_strdup(stmt, 13);
		cert->der = g_bytes_new(der, der != NULL ? (gsize)der_len : 0);
		cert->aws_cert_id = fst_db_column_strdup(stmt, 15);
		cert->subject = fst_db_column_strdup(stmt, 16);
		cert->key_type = fst_db_column_strdup(stmt, 17);
		cert->not_before = sqlite3_column_int64(stmt, 18);
		cert->not_after = sqlite3_column_int64(stmt, 19);
		cert->issuer_sha256 = fst_db_column_strdup(stmt, 20);
		cert->profile = fst_db_column_strdup(stmt, 21);
		cert->created_at = sqlite3_column_int64(stmt, 23);
		cert->updated_at = sqlite3_column_int64(stmt, 24);
		cert->id = sqlite3_column_int64(stmt, 27);
		cert->revoked_at = sqlite3_column_int64(stmt, 28);
		cert->revocation_reason = fst_db_column_strdup(stmt, 29);
		cert->slot = sqlite3_column_int(stmt, 30);
		cert->device_uid = g_strdup(dev->uid);
		if (!fst_cert_state_from_string(state, &cert->state)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_DATABASE,
			            "certificate %s in %s has unknown state '%s': restore the "
			            "database from a backup",
			            cert->serial_hex,
			            self->path,
			            state != NULL ? state : "(null)");
			return NULL;
		}
		dev->cert = g_steal_pointer(&cert);
	}
	return g_steal_pointer(&dev);
}

/**
 * fst_db_find_device:
 * @self: an #FstDb
 * @uid: the device uid
 * @error: (nullable): return location for a #GError
 *
 * Returns: (transfer full): the device with its newest certificate (if any),
 * or %NULL with %FST_ERROR_NOT_FOUND if @uid was never recorded
 */
FstDbDevice *
fst_db_find_device(FstDb *self, const gchar *uid, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *what = NULL;
	gboolean found = FALSE;

	g_return_val_if_fail(self != NULL, NULL);

	if (!fst_db_check_text("device uid", uid, FST_DB_MAX_NAME, TRUE, TRUE, error))
		return NULL;
	what = g_strdup_printf("look up device %s", uid);

	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = fst_db_prepare(self, FST_DB_DEVICE_SELECT "WHERE d.uid = ?1", what, error);
	if (stmt == NULL)
		return NULL;
	if (!fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, uid, -1, SQLITE_TRANSIENT), what, error))
		return NULL;
	if (!fst_db_step_row(self, stmt, &found, what, error))
		return NULL;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "no device with uid %s in %s: check the uid, or the database path",
		            uid,
		            self->path);
		return NULL;
	}
	return fst_db_device_from_row(self, stmt, error);
}

/**
 * fst_db_list_devices:
 * @self: an #FstDb
 * @error: (nullable): return location for a #GError
 *
 * Returns: (transfer full) (element-type FstDbDevice): every device, oldest
 * first, each with its newest certificate; %NULL on error
 */
GPtrArray *
fst_db_list_devices(FstDb *self, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autoptr(GPtrArray) devices =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_db_device_free);
	const gchar *what = "list devices";
	gint rc;

	g_return_val_if_fail(self != NULL, NULL);

	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = fst_db_prepare(self, FST_DB_DEVICE_SELECT "ORDER BY d.id", what, error);
	if (stmt == NULL)
		return NULL;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstDbDevice *dev = fst_db_device_from_row(self, stmt, error);
		if (dev == NULL)
			return NULL;
		g_ptr_array_add(devices, dev);
	}
	if (rc != SQLITE_DONE) {
		fst_db_set_error(self, error, rc, "trying to %s", what);
		return NULL;
	}
	return g_steal_pointer(&devices);
}

/**
 * fst_db_list_events:
 * @self: an #FstDb
 * @device_id: a device id, or 0 for the events of every device and the station
 * @error: (nullable): return location for a #GError
 *
 * Returns: (transfer full) (element-type FstDbEvent): the events in the order
 * they were recorded; %NULL on error
 */
GPtrArray *
fst_db_list_events(FstDb *self, gint64 device_id, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autoptr(GPtrArray) events =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_db_event_free);
	const gchar *what = "list events";
	gint rc;

	g_return_val_if_fail(self != NULL, NULL);

	/* a device's events by events_device; all of them in id order */
	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = fst_db_prepare(self,
	                      device_id > 0
	                          ? "SELECT id, device_id, station_id, step, started_at, ended_at, "
	                            "outcome, detail, operator_id, lot_id, hash FROM events "
	                            "WHERE device_id = ?1 ORDER BY id"
	                          : "SELECT id, device_id, station_id, step, started_at, ended_at, "
	                            "outcome, detail, operator_id, lot_id, hash FROM events "
	                            "WHERE ?1 <= 0 ORDER BY id",
	                      what,
	                      error);
	if (stmt == NULL)
		return NULL;
	if (!fst_db_check_bind(self, sqlite3_bind_int64(stmt, 1, device_id), what, error))
		return NULL;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstDbEvent *ev = g_new0(FstDbEvent, 1);
		ev->id = sqlite3_column_int64(stmt, 0);
		ev->device_id = sqlite3_column_int64(stmt, 1);
		ev->station_id = sqlite3_column_int64(stmt, 2);
		ev->step = fst_db_column_strdup(stmt, 3);
		ev->started_us = sqlite3_column_int64(stmt, 4);
		ev->ended_us = sqlite3_column_int64(stmt, 5);
		ev->outcome = fst_db_column_strdup(stmt, 6);
		ev->detail = fst_db_column_strdup(stmt, 7);
		ev->operator_id = sqlite3_column_int64(stmt, 8);
		ev->lot_id = sqlite3_column_int64(stmt, 9);
		ev->hash = fst_audit_hash_from_bytes(sqlite3_column_blob(stmt, 10),
		                                     (gsize)sqlite3_column_bytes(stmt, 10));
		g_ptr_array_add(events, ev);
	}
	if (rc != SQLITE_DONE) {
		fst_db_set_error(self, error, rc, "trying to %s", what);
		return NULL;
	}
	return g_steal_pointer(&events);
}

/* schema v2: context, revocation, queries, recovery, backup */

/* the id of the row named @name in @table (operators, lots), made if missing */
static gboolean
fst_db_ensure_named_locked(
    FstDb *self, const gchar *table, const gchar *name, gint64 *id, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *what = g_strdup_printf("record %s in %s", name, table);
	g_autofree gchar *sql = g_strdup_printf(
	    "INSERT INTO %s (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE "
	    "SET name = excluded.name RETURNING id",
	    table);
	gboolean found = FALSE;
	gint rc;

	stmt = fst_db_prepare(self, sql, what, error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 2, g_get_real_time());
	if (!fst_db_check_bind(self, rc, what, error) ||
	    !fst_db_step_row(self, stmt, &found, what, error))
		return FALSE;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "recording %s in %s of %s returned no id",
		            name,
		            table,
		            self->path);
		return FALSE;
	}
	*id = sqlite3_column_int64(stmt, 0);
	return fst_db_step_done(self, stmt, what, error);
}

/**
 * fst_db_set_context:
 * @self: an #FstDb
 * @operator_name: (nullable): who runs the station now, e.g. a badge name
 * @lot: (nullable): the lot or work order being provisioned
 * @error: (nullable): return location for a #GError
 *
 * Sets who and what the following records are for: every device started,
 * certificate issued and event recorded through @self from now on carries
 * this operator and lot (in `operator_id`, `lot_id`), without the pipeline
 * passing them. Both are recorded in `operators` and `lots` on first use.
 * %NULL clears one. The context belongs to this connection (this station
 * process), not to the file.
 *
 * Fails with %FST_ERROR_INVALID_DATA for a name that is too long, not UTF-8
 * or holds control characters; the context is unchanged then.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_set_context(FstDb *self, const gchar *operator_name, const gchar *lot, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	const gchar *what = "record the operator and lot";
	gint64 operator_id = 0;
	gint64 lot_id = 0;

	g_return_val_if_fail(self != NULL, FALSE);

	if (!fst_db_check_text("operator", operator_name, FST_DB_MAX_NAME, FALSE, TRUE, error) ||
	    !fst_db_check_text("lot", lot, FST_DB_MAX_NAME, FALSE, TRUE, error))
		return FALSE;

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!fst_db_begin(self, what, error))
		return FALSE;
	if ((operator_name != NULL && operator_name[0] != '\0' &&
	     !fst_db_ensure_named_locked(self, "operators", operator_name, &operator_id, error)) ||
	    (lot != NULL && lot[0] != '\0' &&
	     !fst_db_ensure_named_locked(self, "lots", lot, &lot_id, error))) {
		fst_db_rollback(self);
		return FALSE;
	}
	if (!fst_db_commit(self, what, error))
		return FALSE;
	self->operator_id = operator_id;
	self->lot_id = lot_id;
	return TRUE;
}

/**
 * fst_db_revoke_certificate:
 * @self: an #FstDb
 * @serial_hex: the certificate serial, any case
 * @reason: why, e.g. an RFC 5280 reason name such as "keyCompromise"; one line
 * @error: (nullable): return location for a #GError
 *
 * Marks a certificate `revoked` (final) with `revoked_at` = now and
 * `revocation_reason`, and records a `certificate-state` event naming the
 * reason, in one transaction. This records the decision; publishing it (CRL,
 * AWS IoT) is the caller's job.
 *
 * Fails with %FST_ERROR_NOT_FOUND for an unknown serial and
 * %FST_ERROR_INVALID_DATA for an empty reason or a certificate already
 * revoked (nothing changes: the first revocation stands).
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_revoke_certificate(FstDb *self,
                          const gchar *serial_hex,
                          const gchar *reason,
                          GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *what = NULL;
	FstCertState from = FST_CERT_STATE_ISSUED;
	gint64 cert_id = 0;
	gint64 device_id = 0;
	gboolean found = FALSE;

	g_return_val_if_fail(self != NULL, FALSE);

	serial = fst_db_normalize_hex(
	    "certificate serial", serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (serial == NULL)
		return FALSE;
	if (!fst_db_check_text("revocation reason", reason, FST_DB_MAX_NAME, TRUE, TRUE, error))
		return FALSE;
	what = g_strdup_printf("revoke certificate %s", serial);

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!fst_db_begin(self, what, error))
		return FALSE;
	if (!fst_db_get_cert_locked(self, serial, &found, &cert_id, &device_id, &from, error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	if (!found) {
		fst_db_rollback(self);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "certificate %s is not in %s: check the serial",
		            serial,
		            self->path);
		return FALSE;
	}
	if (from == FST_CERT_STATE_REVOKED) {
		fst_db_rollback(self);
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate %s is already revoked: the first revocation and its "
		            "reason stand",
		            serial);
		return FALSE;
	}
	if (!fst_db_move_cert_locked(self,
	                             cert_id,
	                             device_id,
	                             serial,
	                             from,
	                             FST_CERT_STATE_REVOKED,
	                             reason,
	                             NULL,
	                             error)) {
		fst_db_rollback(self);
		return FALSE;
	}
	return fst_db_commit(self, what, error);
}

/* the columns of a certificate with its device, profile, operator and lot */
#define FST_DB_CERT_SELECT                                                                         \
	"SELECT c.id, c.serial_hex, c.der, c.aws_cert_id, c.subject, c.key_type, c.not_before, "   \
	"c.not_after, a.sha256, p.name, c.state, c.created_at, c.updated_at, "                     \
	"p.content_sha256, d.uid, o.name, l.name, c.revoked_at, c.revocation_reason, c.slot "      \
	"FROM certificates c JOIN devices d ON d.id = c.device_id "                                \
	"LEFT JOIN profiles p ON p.id = c.profile_id "                                             \
	"LEFT JOIN operators o ON o.id = c.operator_id "                                           \
	"LEFT JOIN lots l ON l.id = c.lot_id LEFT JOIN cas a ON a.id = c.ca_id "

static FstDbCert *
fst_db_cert_from_row(FstDb *self, sqlite3_stmt *stmt, GError **error)
{
	g_autoptr(FstDbCert) cert = g_new0(FstDbCert, 1);
	const gchar *state_str = (const gchar *)sqlite3_column_text(stmt, 10);
	gconstpointer der = sqlite3_column_blob(stmt, 2);
	gint der_len = sqlite3_column_bytes(stmt, 2);

	cert->id = sqlite3_column_int64(stmt, 0);
	cert->serial_hex = fst_db_column_strdup(stmt, 1);
	cert->der = g_bytes_new(der, der != NULL ? (gsize)der_len : 0);
	cert->aws_cert_id = fst_db_column_strdup(stmt, 3);
	cert->subject = fst_db_column_strdup(stmt, 4);
	cert->key_type = fst_db_column_strdup(stmt, 5);
	cert->not_before = sqlite3_column_int64(stmt, 6);
	cert->not_after = sqlite3_column_int64(stmt, 7);
	cert->issuer_sha256 = fst_db_column_strdup(stmt, 8);
	cert->profile = fst_db_column_strdup(stmt, 9);
	cert->created_at = sqlite3_column_int64(stmt, 11);
	cert->updated_at = sqlite3_column_int64(stmt, 12);
	cert->profile_sha256 = fst_db_column_strdup(stmt, 13);
	cert->device_uid = fst_db_column_strdup(stmt, 14);
	cert->operator_name = fst_db_column_strdup(stmt, 15);
	cert->lot = fst_db_column_strdup(stmt, 16);
	cert->revoked_at = sqlite3_column_int64(stmt, 17);
	cert->revocation_reason = fst_db_column_strdup(stmt, 18);
	cert->slot = sqlite3_column_int(stmt, 19);
	if (!fst_cert_state_from_string(state_str, &cert->state)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "certificate %s in %s has unknown state '%s': restore the "
		            "database from a backup",
		            cert->serial_hex,
		            self->path,
		            state_str != NULL ? state_str : "(null)");
		return NULL;
	}
	return g_steal_pointer(&cert);
}

/**
 * fst_db_list_certificates:
 * @self: an #FstDb
 * @filter: (nullable): which certificates; %NULL for all
 * @error: (nullable): return location for a #GError
 *
 * Lists certificates, oldest first, with their device uid, profile hash,
 * operator, lot and revocation filled in.
 *
 * Fails with %FST_ERROR_INVALID_DATA for an unknown state name or an issuer
 * that is not a SHA-256 in hex.
 *
 * Returns: (transfer full) (element-type FstDbCert): the certificates, or
 * %NULL on error
 */
GPtrArray *
fst_db_list_certificates(FstDb *self, const FstDbCertFilter *filter, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autoptr(GPtrArray) certs = g_ptr_array_new_with_free_func((GDestroyNotify)fst_db_cert_free);
	g_autoptr(GString) sql = NULL;
	g_autofree gchar *issuer = NULL;
	const FstDbCertFilter none = {0};
	const gchar *what = "list certificates";
	FstCertState state = FST_CERT_STATE_ISSUED;
	gint rc;

	g_return_val_if_fail(self != NULL, NULL);

	if (filter == NULL)
		filter = &none;
	if (filter->state != NULL && !fst_cert_state_from_string(filter->state, &state)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "certificate state '%s' is not one of issued, burned, verified, "
		            "registered, superseded, revoked",
		            filter->state);
		return NULL;
	}
	if (filter->issuer_sha256 != NULL) {
		issuer = fst_db_normalize_hex("issuer SHA-256",
		                              filter->issuer_sha256,
		                              FST_DB_SHA256_HEX,
		                              FST_DB_SHA256_HEX,
		                              FALSE,
		                              error);
		if (issuer == NULL)
			return NULL;
	}

	/* only the terms in use, so that SQLite can pick an index for them (a
	 * device's certificates by uid and certificates_device, a CA's by
	 * cas.sha256 and certificates_ca); the rest scan the table */
	sql = g_string_new(FST_DB_CERT_SELECT "WHERE 1");
	if (filter->device_uid != NULL)
		g_string_append(sql, " AND d.uid = ?1");
	if (filter->state != NULL)
		g_string_append(sql, " AND c.state = ?2");
	if (issuer != NULL)
		g_string_append(sql, " AND a.sha256 = ?3");
	if (filter->lot != NULL)
		g_string_append(sql, " AND l.name = ?4");
	if (filter->station_id > 0)
		g_string_append(sql, " AND c.station_id = ?5");
	if (filter->since_us > 0)
		g_string_append(sql, " AND c.created_at >= ?6");
	if (filter->until_us > 0)
		g_string_append(sql, " AND c.created_at < ?7");
	g_string_append(sql, " ORDER BY c.id");

	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = fst_db_prepare(self, sql->str, what, error);
	if (stmt == NULL)
		return NULL;
	rc = SQLITE_OK;
	if (filter->device_uid != NULL)
		rc |= sqlite3_bind_text(stmt, 1, filter->device_uid, -1, SQLITE_TRANSIENT);
	if (filter->state != NULL)
		rc |=
		    sqlite3_bind_text(stmt, 2, fst_cert_state_to_string(state), -1, SQLITE_STATIC);
	if (issuer != NULL)
		rc |= sqlite3_bind_text(stmt, 3, issuer, -1, SQLITE_TRANSIENT);
	if (filter->lot != NULL)
		rc |= sqlite3_bind_text(stmt, 4, filter->lot, -1, SQLITE_TRANSIENT);
	if (filter->station_id > 0)
		rc |= sqlite3_bind_int64(stmt, 5, filter->station_id);
	if (filter->since_us > 0)
		rc |= sqlite3_bind_int64(stmt, 6, filter->since_us);
	if (filter->until_us > 0)
		rc |= sqlite3_bind_int64(stmt, 7, filter->until_us);
	if (!fst_db_check_bind(self, rc, what, error))
		return NULL;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstDbCert *cert = fst_db_cert_from_row(self, stmt, error);
		if (cert == NULL)
			return NULL;
		g_ptr_array_add(certs, cert);
	}
	if (rc != SQLITE_DONE) {
		fst_db_set_error(self, error, rc, "trying to %s", what);
		return NULL;
	}
	return g_steal_pointer(&certs);
}

/**
 * fst_db_count_certificates_by_issuer:
 * @self: an #FstDb
 * @issuer_sha256: SHA-256 of the issuing CA certificate DER, any case
 * @error: (nullable): return location for a #GError
 *
 * Counts every certificate recorded as issued by that CA, whatever its state
 * (revoked and failed attempts included): what the CA has signed.
 *
 * Returns: the count (>= 0), or -1 on error
 */
gint64
fst_db_count_certificates_by_issuer(FstDb *self, const gchar *issuer_sha256, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *issuer = NULL;
	const gchar *what = "count certificates by issuer";
	gboolean found = FALSE;

	g_return_val_if_fail(self != NULL, -1);

	issuer = fst_db_normalize_hex(
	    "issuer SHA-256", issuer_sha256, FST_DB_SHA256_HEX, FST_DB_SHA256_HEX, FALSE, error);
	if (issuer == NULL)
		return -1;
	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = fst_db_prepare(self,
	                      "SELECT count(*) FROM certificates c JOIN cas a ON a.id = c.ca_id "
	                      "WHERE a.sha256 = ?1",
	                      what,
	                      error);
	if (stmt == NULL)
		return -1;
	if (!fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, issuer, -1, SQLITE_TRANSIENT), what, error) ||
	    !fst_db_step_row(self, stmt, &found, what, error))
		return -1;
	return found ? sqlite3_column_int64(stmt, 0) : 0;
}

/**
 * fst_db_mark_interrupted:
 * @self: an #FstDb
 * @station_id: the station that is starting; only its devices are touched
 * @error: (nullable): return location for a #GError
 *
 * Call when a station starts, before it provisions anything: every device
 * this station left `in-progress` (it died: power cut, crash, kill) becomes
 * `rework`, with `last_error` saying so and an `interrupted` event naming
 * its newest certificate and that certificate's state, all in one
 * transaction. Nothing is left silently half-done; the certificates keep
 * their state (an issued one may be on the device).
 *
 * Returns: (transfer full) (element-type utf8): the uids marked (maybe
 * empty), or %NULL on error
 */
GPtrArray *
fst_db_mark_interrupted(FstDb *self, gint64 station_id, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autoptr(GPtrArray) uids = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_autoptr(GPtrArray) details = g_ptr_array_new_with_free_func(g_free);
	const gchar *what = "mark interrupted devices for re-work";
	gint64 now = g_get_real_time();
	gint rc;

	g_return_val_if_fail(self != NULL, NULL);

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!fst_db_begin(self, what, error))
		return NULL;
	stmt = fst_db_prepare(self,
	                      "SELECT d.id, d.uid, c.serial_hex, c.state FROM devices d "
	                      "LEFT JOIN certificates c ON c.id = (SELECT max(id) FROM "
	                      "certificates WHERE device_id = d.id) WHERE d.state = "
	                      "'in-progress' AND d.station_id IS ?1 ORDER BY d.id",
	                      what,
	                      error);
	if (stmt == NULL ||
	    !fst_db_check_bind(self, fst_db_bind_id(stmt, 1, station_id), what, error)) {
		fst_db_rollback(self);
		return NULL;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		gint64 id = sqlite3_column_int64(stmt, 0);
		const gchar *serial = (const gchar *)sqlite3_column_text(stmt, 2);
		const gchar *state = (const gchar *)sqlite3_column_text(stmt, 3);
		g_array_append_val(ids, id);
		g_ptr_array_add(uids, fst_db_column_strdup(stmt, 1));
		if (serial != NULL)
			g_ptr_array_add(details,
			                g_strdup_printf("the station stopped while provisioning it "
			                                "(certificate %s kept as %s): provision it "
			                                "again",
			                                serial,
			                                state));
		else
			g_ptr_array_add(details,
			                g_strdup("the station stopped while provisioning it (no "
			                         "certificate was issued): provision it again"));
	}
	g_clear_pointer(&stmt, fst_db_stmt_release);
	if (rc != SQLITE_DONE) {
		fst_db_set_error(self, error, rc, "trying to %s", what);
		fst_db_rollback(self);
		return NULL;
	}
	for (guint i = 0; i < ids->len; i++) {
		gint64 id = g_array_index(ids, gint64, i);
		const gchar *detail = g_ptr_array_index(details, i);
		if (!fst_db_set_device_state_locked(self, id, "rework", detail, error) ||
		    !fst_db_insert_event_locked(
		        self, id, station_id, "interrupted", now, now, "interrupted", detail, error)) {
			fst_db_rollback(self);
			return NULL;
		}
	}
	if (!fst_db_commit(self, what, error))
		return NULL;
	return g_steal_pointer(&uids);
}

/*
 * Copies the database to @dest through SQLite's online backup API, from a
 * connection of its own: in WAL mode it reads one consistent snapshot and
 * never blocks the writers. @dest must not exist (never overwritten); it is
 * created 0600 and left in rollback-journal mode, one self-contained file.
 */
static gboolean
fst_db_backup_to(const gchar *src_path, const gchar *dest, GError **error)
{
	g_autoptr(sqlite3) src = NULL;
	g_autoptr(sqlite3) dst = NULL;
	sqlite3_backup *backup;
	gint fd;
	gint rc;

	fd = g_open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		gint errsv = errno;
		g_set_error(error,
		            FST_ERROR,
		            errsv == EACCES ? FST_ERROR_PERMISSION_DENIED : FST_ERROR_DATABASE,
		            "cannot create backup %s: %s%s",
		            dest,
		            g_strerror(errsv),
		            errsv == EEXIST ? ": choose a new file name, a backup is never "
		                              "overwritten"
		                            : "");
		return FALSE;
	}
	g_close(fd, NULL);
	rc = sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(src, FST_DB_BUSY_TIMEOUT_MS);
		rc = sqlite3_open_v2(dest, &dst, SQLITE_OPEN_READWRITE, NULL);
	}
	if (rc != SQLITE_OK) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "cannot open %s for a backup to %s: %s",
		            src_path,
		            dest,
		            sqlite3_errstr(rc));
		return FALSE;
	}
	backup = sqlite3_backup_init(dst, "main", src, "main");
	if (backup == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "cannot back up %s to %s: %s",
		            src_path,
		            dest,
		            sqlite3_errmsg(dst));
		return FALSE;
	}
	/* all pages in one step: one read transaction, one snapshot */
	do {
		rc = sqlite3_backup_step(backup, -1);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			g_usleep(10000);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	sqlite3_backup_finish(backup);
	if (rc != SQLITE_DONE) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "backing up %s to %s failed: %s: check the free space at the "
		            "destination (the incomplete copy %s is not a backup: delete it)",
		            src_path,
		            dest,
		            sqlite3_errstr(rc),
		            dest);
		return FALSE;
	}
	rc = sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "finishing backup %s failed: %s",
		            dest,
		            sqlite3_errmsg(dst));
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_db_backup:
 * @self: an #FstDb
 * @dest: the backup file; must not exist
 * @error: (nullable): return location for a #GError
 *
 * Copies the whole database to @dest with SQLite's online backup API, safe
 * while stations provision into it (one consistent snapshot; writers are
 * not blocked). @dest is created with mode 0600 and is never overwritten;
 * the copy is a standalone database that fst_db_open() opens.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_backup(FstDb *self, const gchar *dest, GError **error)
{
	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(dest != NULL, FALSE);
	return fst_db_backup_to(self->path, dest, error);
}

/**
 * fst_db_get_last_backup:
 * @self: an #FstDb
 *
 * Returns: (transfer full) (nullable): the copy fst_db_open() made before
 * migrating this file, if it did
 */
gchar *
fst_db_get_last_backup(FstDb *self)
{
	g_return_val_if_fail(self != NULL, NULL);
	return g_strdup(self->last_backup);
}

/**
 * fst_db_integrity_check:
 * @self: an #FstDb
 * @error: (nullable): return location for a #GError
 *
 * Runs SQLite's `PRAGMA integrity_check` and `foreign_key_check`.
 *
 * Fails with %FST_ERROR_DATABASE naming the first problem found.
 *
 * Returns: %TRUE when the file is sound
 */
gboolean
fst_db_integrity_check(FstDb *self, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autofree gchar *result = NULL;
	g_autoptr(FstDbStmt) fk = NULL;
	gboolean violation = FALSE;

	g_return_val_if_fail(self != NULL, FALSE);

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!fst_db_query_text(self, "PRAGMA integrity_check", &result, error))
		return FALSE;
	if (g_strcmp0(result, "ok") != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s is damaged: %s: restore it from a backup",
		            self->path,
		            result != NULL ? result : "(no answer)");
		return FALSE;
	}
	fk = fst_db_prepare(self, "PRAGMA foreign_key_check", "check references", error);
	if (fk == NULL || !fst_db_step_row(self, fk, &violation, "check references", error))
		return FALSE;
	if (violation) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s has a row in %s that points at nothing: it was edited "
		            "outside fleetstation",
		            self->path,
		            (const gchar *)sqlite3_column_text(fk, 0));
		return FALSE;
	}
	return TRUE;
}

/* the device states, in the order of FstDbStats.devices_by_state */
const gchar *const fst_db_device_states[5] = {
    "new",
    "in-progress",
    "provisioned",
    "failed",
    "rework",
};

static gboolean
fst_db_count_locked(FstDb *self, const gchar *sql, const gchar *arg, gint64 *count, GError **error)
{
	g_autoptr(FstDbStmt) stmt = fst_db_prepare(self, sql, "count rows", error);
	gboolean found = FALSE;

	if (stmt == NULL)
		return FALSE;
	if (arg != NULL &&
	    !fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, arg, -1, SQLITE_TRANSIENT), "count rows", error))
		return FALSE;
	if (!fst_db_step_row(self, stmt, &found, "count rows", error))
		return FALSE;
	*count = found ? sqlite3_column_int64(stmt, 0) : 0;
	return TRUE;
}

/* counts[i] = rows whose state is names[i]; @sql returns (state, count) */
static gboolean
fst_db_count_states_locked(FstDb *self,
                           const gchar *sql,
                           const gchar *const *names,
                           guint n_names,
                           gint64 *counts,
                           GError **error)
{
	g_autoptr(FstDbStmt) stmt = fst_db_prepare(self, sql, "count rows by state", error);
	gint rc;

	if (stmt == NULL)
		return FALSE;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const gchar *state = (const gchar *)sqlite3_column_text(stmt, 0);
		for (guint i = 0; i < n_names; i++) {
			if (g_strcmp0(state, names[i]) == 0)
				counts[i] = sqlite3_column_int64(stmt, 1);
		}
	}
	if (rc != SQLITE_DONE)
		return fst_db_set_error(self, error, rc, "trying to count rows by state");
	return TRUE;
}

/**
 * fst_db_get_stats:
 * @self: an #FstDb
 * @stats: (out caller-allocates): filled in; free with fst_db_stats_clear()
 * @error: (nullable): return location for a #GError
 *
 * Counts what the database holds, in one read transaction.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_get_stats(FstDb *self, FstDbStats *stats, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	struct stat st = {0};
	gboolean ok;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(stats != NULL, FALSE);

	memset(stats, 0, sizeof(*stats));
	stats->schema_version = self->schema_version;
	if (g_stat(self->path, &st) == 0)
		stats->file_bytes = st.st_size;
	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!fst_db_exec(self, "BEGIN", "read the statistics", error))
		return FALSE;
	ok = fst_db_query_text(self,
	                       "SELECT value FROM db_properties WHERE key = 'database-id'",
	                       &stats->database_id,
	                       error) &&
	     fst_db_count_locked(self, "SELECT count(*) FROM stations", NULL, &stats->stations, error) &&
	     fst_db_count_locked(
	         self, "SELECT count(*) FROM operators", NULL, &stats->operators, error) &&
	     fst_db_count_locked(self, "SELECT count(*) FROM lots", NULL, &stats->lots, error) &&
	     fst_db_count_locked(self, "SELECT count(*) FROM devices", NULL, &stats->devices, error) &&
	     fst_db_count_locked(
	         self, "SELECT count(*) FROM certificates", NULL, &stats->certificates, error) &&
	     fst_db_count_locked(self, "SELECT max(id) FROM events", NULL, &stats->events, error) &&
	     fst_db_count_locked(self,
	                         "SELECT count(*) FROM registrations WHERE state = 'pending'",
	                         NULL,
	                         &stats->registrations_pending,
	                         error);
	/* one pass over each table: no state index is kept for this (every index
	 * costs a page written per commit, db/schema.md "Size and cost") */
	ok = ok && fst_db_count_states_locked(self,
	                                      "SELECT state, count(*) FROM devices GROUP BY state",
	                                      fst_db_device_states,
	                                      G_N_ELEMENTS(fst_db_device_states),
	                                      stats->devices_by_state,
	                                      error);
	ok = ok &&
	     fst_db_count_states_locked(self,
	                                "SELECT state, count(*) FROM certificates GROUP BY state",
	                                fst_cert_state_names,
	                                FST_CERT_STATE_LAST,
	                                stats->certificates_by_state,
	                                error);
	fst_db_rollback(self);
	return ok;
}

/**
 * fst_db_stats_clear:
 * @stats: filled by fst_db_get_stats()
 *
 * Frees what @stats owns.
 */
void
fst_db_stats_clear(FstDbStats *stats)
{
	g_clear_pointer(&stats->database_id, g_free);
}

/* schema v4: the registration queue, key escrows, the certificate in service */

static const gchar *const fst_db_registration_actions[] = {"register", "deactivate", NULL};
static const gchar *const fst_db_registration_states[] = {
    "pending", "in-progress", "done", "failed", NULL};

/**
 * fst_db_registration_free:
 * @self: (nullable): an #FstDbRegistration
 *
 * Frees a registration queue row.
 */
void
fst_db_registration_free(FstDbRegistration *self)
{
	if (self == NULL)
		return;
	g_free(self->serial_hex);
	g_free(self->aws_cert_id);
	g_free(self->target);
	g_free(self->action);
	g_free(self->state);
	g_free(self);
}

/**
 * fst_db_registration_count_free:
 * @self: (nullable): an #FstDbRegistrationCount
 *
 * Frees a registration count.
 */
void
fst_db_registration_count_free(FstDbRegistrationCount *self)
{
	if (self == NULL)
		return;
	g_free(self->action);
	g_free(self->state);
	g_free(self);
}

static gboolean
fst_db_check_one_of(const gchar *field,
                    const gchar *value,
                    const gchar *const *allowed,
                    GError **error)
{
	g_autoptr(GString) list = g_string_new(NULL);

	if (value == NULL || g_strv_contains(allowed, value))
		return TRUE;
	for (guint i = 0; allowed[i] != NULL; i++)
		g_string_append_printf(list, "%s%s", i > 0 ? ", " : "", allowed[i]);
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_INVALID_DATA,
	            "%s '%s' is not one of %s",
	            field,
	            value,
	            list->str);
	return FALSE;
}

/**
 * fst_db_list_registrations:
 * @self: an #FstDb
 * @action: (nullable): "register" or "deactivate", or %NULL for both
 * @state: (nullable): "pending", "in-progress", "done" or "failed", or %NULL
 *   for all
 * @error: (nullable): return location for a #GError
 *
 * Lists the cloud registration queue, oldest row first.
 *
 * Fails with %FST_ERROR_INVALID_DATA for an unknown action or state.
 *
 * Returns: (transfer full) (element-type FstDbRegistration): the rows, or
 * %NULL on error
 */
GPtrArray *
fst_db_list_registrations(FstDb *self, const gchar *action, const gchar *state, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autoptr(GPtrArray) rows =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_db_registration_free);
	const gchar *what = "list the registration queue";
	gint rc;

	g_return_val_if_fail(self != NULL, NULL);

	if (!fst_db_check_one_of(
	        "registration action", action, fst_db_registration_actions, error) ||
	    !fst_db_check_one_of("registration state", state, fst_db_registration_states, error))
		return NULL;
	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt =
	    fst_db_prepare(self,
	                   "SELECT r.id, c.serial_hex, c.aws_cert_id, r.target, r.action, r.state, "
	                   "r.attempts, r.created_at FROM registrations r JOIN certificates c ON "
	                   "c.id = r.certificate_id WHERE (?1 IS NULL OR r.action = ?1) AND "
	                   "(?2 IS NULL OR r.state = ?2) ORDER BY r.id",
	                   what,
	                   error);
	if (stmt == NULL)
		return NULL;
	rc = sqlite3_bind_text(stmt, 1, action, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 2, state, -1, SQLITE_TRANSIENT);
	if (!fst_db_check_bind(self, rc, what, error))
		return NULL;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstDbRegistration *reg = g_new0(FstDbRegistration, 1);
		reg->id = sqlite3_column_int64(stmt, 0);
		reg->serial_hex = fst_db_column_strdup(stmt, 1);
		reg->aws_cert_id = fst_db_column_strdup(stmt, 2);
		reg->target = fst_db_column_strdup(stmt, 3);
		reg->action = fst_db_column_strdup(stmt, 4);
		reg->state = fst_db_column_strdup(stmt, 5);
		reg->attempts = sqlite3_column_int(stmt, 6);
		reg->created_at = sqlite3_column_int64(stmt, 7);
		g_ptr_array_add(rows, reg);
	}
	if (rc != SQLITE_DONE) {
		fst_db_set_error(self, error, rc, "trying to %s", what);
		return NULL;
	}
	return g_steal_pointer(&rows);
}

/**
 * fst_db_count_registrations_by_issuer:
 * @self: an #FstDb
 * @issuer_sha256: SHA-256 of the issuing CA certificate DER, any case
 * @error: (nullable): return location for a #GError
 *
 * Counts the registration queue rows of the certificates that CA issued, by
 * action and state (what `fleetstation ca list` shows).
 *
 * Returns: (transfer full) (element-type FstDbRegistrationCount): the
 * counts ordered by action and state, empty when none of its certificates
 * has a row; %NULL on error
 */
GPtrArray *
fst_db_count_registrations_by_issuer(FstDb *self, const gchar *issuer_sha256, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autoptr(GPtrArray) counts =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_db_registration_count_free);
	g_autofree gchar *issuer = NULL;
	const gchar *what = "count the registrations of a CA";
	gint rc;

	g_return_val_if_fail(self != NULL, NULL);

	issuer = fst_db_normalize_hex(
	    "issuer SHA-256", issuer_sha256, FST_DB_SHA256_HEX, FST_DB_SHA256_HEX, FALSE, error);
	if (issuer == NULL)
		return NULL;
	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = fst_db_prepare(self,
	                      "SELECT r.action, r.state, count(*) FROM registrations r "
	                      "JOIN certificates c ON c.id = r.certificate_id JOIN cas a ON "
	                      "a.id = c.ca_id WHERE a.sha256 = ?1 GROUP BY r.action, r.state "
	                      "ORDER BY r.action DESC, r.state",
	                      what,
	                      error);
	if (stmt == NULL)
		return NULL;
	if (!fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, issuer, -1, SQLITE_TRANSIENT), what, error))
		return NULL;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstDbRegistrationCount *count = g_new0(FstDbRegistrationCount, 1);
		count->action = fst_db_column_strdup(stmt, 0);
		count->state = fst_db_column_strdup(stmt, 1);
		count->count = sqlite3_column_int64(stmt, 2);
		g_ptr_array_add(counts, count);
	}
	if (rc != SQLITE_DONE) {
		fst_db_set_error(self, error, rc, "trying to %s", what);
		return NULL;
	}
	return g_steal_pointer(&counts);
}

/**
 * fst_db_get_escrow:
 * @self: an #FstDb
 * @serial_hex: the certificate serial, any case
 * @recipient_sha256: (out) (optional) (transfer full): SHA-256 of the DER
 *   of the escrow certificate the CMS is encrypted to
 * @error: (nullable): return location for a #GError
 *
 * Reads the key escrow of a certificate (fst_db_device_log_add_escrow()).
 *
 * Fails with %FST_ERROR_NOT_FOUND when the certificate has no escrow (or is
 * not recorded), %FST_ERROR_INVALID_DATA for a bad serial.
 *
 * Returns: (transfer full): the DER CMS EnvelopedData, or %NULL on error
 */
GBytes *
fst_db_get_escrow(FstDb *self, const gchar *serial_hex, gchar **recipient_sha256, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *what = NULL;
	gboolean found = FALSE;
	GBytes *cms;

	g_return_val_if_fail(self != NULL, NULL);

	serial = fst_db_normalize_hex(
	    "certificate serial", serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
	if (serial == NULL)
		return NULL;
	what = g_strdup_printf("read the key escrow of certificate %s", serial);
	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = fst_db_prepare(self,
	                      "SELECT e.recipient_sha256, e.cms FROM key_escrows e JOIN "
	                      "certificates c ON c.id = e.certificate_id WHERE c.serial_hex = ?1",
	                      what,
	                      error);
	if (stmt == NULL)
		return NULL;
	if (!fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, serial, -1, SQLITE_TRANSIENT), what, error) ||
	    !fst_db_step_row(self, stmt, &found, what, error))
		return NULL;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "certificate %s has no key escrow in %s",
		            serial,
		            self->path);
		return NULL;
	}
	cms = g_bytes_new(sqlite3_column_blob(stmt, 1), (gsize)sqlite3_column_bytes(stmt, 1));
	if (recipient_sha256 != NULL)
		*recipient_sha256 = fst_db_column_strdup(stmt, 0);
	return cms;
}

/**
 * fst_db_get_active_certificate:
 * @self: an #FstDb
 * @device_uid: the device uid
 * @error: (nullable): return location for a #GError
 *
 * Finds the certificate a device is using: its newest certificate in state
 * verified or registered, with its credential slot. The station uses it to
 * recognise a returning device.
 *
 * Returns: (transfer full) (nullable): the certificate, or %NULL without an
 * error when the device is unknown or has none in service; %NULL with
 * @error set on failure
 */
FstDbCert *
fst_db_get_active_certificate(FstDb *self, const gchar *device_uid, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *what = NULL;
	gboolean found = FALSE;

	g_return_val_if_fail(self != NULL, NULL);

	if (!fst_db_check_text("device uid", device_uid, FST_DB_MAX_NAME, TRUE, TRUE, error))
		return NULL;
	what = g_strdup_printf("look up the certificate in service of device %s", device_uid);
	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = fst_db_prepare(self,
	                      FST_DB_CERT_SELECT "WHERE d.uid = ?1 AND c.state IN ('verified', "
	                                         "'registered') ORDER BY c.id DESC LIMIT 1",
	                      what,
	                      error);
	if (stmt == NULL)
		return NULL;
	if (!fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, device_uid, -1, SQLITE_TRANSIENT), what, error) ||
	    !fst_db_step_row(self, stmt, &found, what, error))
		return NULL;
	if (!found)
		return NULL;
	return fst_db_cert_from_row(self, stmt, error);
}
