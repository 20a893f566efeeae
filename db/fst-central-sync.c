/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sync: a station's committed SQLite records shipped to the central
 * registry, in order, idempotently, in batches (db/central.md, "Sync").
 *
 * The station's events are the sequence: each batch is the events after the
 * station's high-water mark (db_properties `central-synced-events`), with
 * the rows they bind (devices, certificates with their DER, device objects)
 * and the registrations after `central-synced-registrations`. A batch is one
 * PostgreSQL transaction, sent in libpq's pipeline mode; every row is keyed
 * by (station, local id) and written with ON CONFLICT, so a batch shipped
 * twice (the station killed between the central commit and its own mark)
 * changes nothing. The marks move only after the central commit.
 *
 * The records are read on a read-only connection of their own, in one read
 * transaction (a snapshot): the line's writer never waits for the sync. A
 * row goes with the batch that holds its last binding in the snapshot, so
 * the central copy of a row is always the one the shipped chain binds last.
 */

#define G_LOG_DOMAIN "FstCentral"

#include "fst-config.h"

#include <string.h>

#include "fst-central-private.h"
#include "fst-crypto.h"
#include "fst-db-private.h"
#include "fst-error.h"

#define FST_CENTRAL_MARK_EVENTS "central-synced-events"
#define FST_CENTRAL_MARK_REGISTRATIONS "central-synced-registrations"
#define FST_CENTRAL_MARK_AT "central-synced-at"
/* the advisory lock class of a station's sync: "fsts" */
#define FST_CENTRAL_SYNC_LOCK "1718842483"
/* the advisory lock class of a public key, held by the batch that ships a
 * certificate for it until that batch commits: "fstk" */
#define FST_CENTRAL_KEY_LOCK "1718842475"
/* takes the key locks $1 (an array of fst_central_key_lock_id()), each
 * once, in ascending order: two transactions locking keys this way never
 * wait on each other */
#define FST_CENTRAL_SQL_LOCK_KEYS                                                                  \
	"SELECT count(pg_advisory_xact_lock(" FST_CENTRAL_KEY_LOCK ", k))"                         \
	" FROM (SELECT DISTINCT unnest($1::integer[]) AS k ORDER BY k) t"

/* the statements of a batch, prepared once per connection */
static const struct {
	const gchar *name;
	const gchar *sql;
} fst_central_sync_stmts[] = {
    {"fst_event",
     "INSERT INTO events (station_id, local_id, device_local_id, station_local_id,"
     "  operator_local_id, lot_local_id, step, started_at, ended_at, outcome, detail, hash, rows)"
     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
     " ON CONFLICT DO NOTHING"},
    {"fst_device",
     "INSERT INTO devices (station_id, local_id, uid, model, firmware, protocol_version,"
     "  key_types, validation, port, state, last_error, operator, lot, created_at, updated_at)"
     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
     " ON CONFLICT (station_id, local_id) DO UPDATE SET uid = EXCLUDED.uid,"
     "  model = EXCLUDED.model, firmware = EXCLUDED.firmware,"
     "  protocol_version = EXCLUDED.protocol_version, key_types = EXCLUDED.key_types,"
     "  validation = EXCLUDED.validation, port = EXCLUDED.port, state = EXCLUDED.state,"
     "  last_error = EXCLUDED.last_error, operator = EXCLUDED.operator, lot = EXCLUDED.lot,"
     "  updated_at = EXCLUDED.updated_at"
     " WHERE devices.updated_at <= EXCLUDED.updated_at"},
    {"fst_cert",
     "INSERT INTO certificates (station_id, local_id, device_local_id, device_uid, serial_hex,"
     "  issuer_sha256, aws_cert_id, der, subject, key_type, not_before, not_after, state, slot,"
     "  profile, profile_sha256, operator, lot, created_at, updated_at, revoked_at,"
     "  revocation_reason, key_sha256, conflict)"
     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
     "  $18, $19, $20, $21, $22, $23, fst_certificate_conflict($1, $2, $6, $5, $4, $13, $23))"
     " ON CONFLICT (station_id, local_id) DO UPDATE SET state = EXCLUDED.state,"
     "  key_sha256 = coalesce(certificates.key_sha256, EXCLUDED.key_sha256),"
     "  slot = EXCLUDED.slot, updated_at = EXCLUDED.updated_at,"
     "  revoked_at = EXCLUDED.revoked_at, revocation_reason = EXCLUDED.revocation_reason,"
     "  subject = EXCLUDED.subject, not_before = EXCLUDED.not_before,"
     "  not_after = EXCLUDED.not_after, operator = EXCLUDED.operator, lot = EXCLUDED.lot,"
     "  conflict = coalesce(certificates.conflict, EXCLUDED.conflict)"
     " WHERE certificates.updated_at <= EXCLUDED.updated_at"},
    {"fst_object",
     "INSERT INTO device_objects (station_id, local_id, device_local_id, certificate_local_id,"
     "  kind, sha256, length, contents, written_at)"
     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"},
    {"fst_registration",
     "INSERT INTO registrations (station_id, local_id, certificate_local_id, target, action,"
     "  created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (station_id, local_id) DO NOTHING"},
    {"fst_release",
     "UPDATE reservations SET released_at = now()"
     " WHERE device_uid = $2 AND released_at IS NULL"
     "  AND station = (SELECT name FROM stations WHERE id = $1)"},
    {"fst_head",
     "UPDATE stations SET head_id = $2, head_hash = $3, last_sync_at = now()"
     " WHERE id = $1 AND head_id <= $2"},
    {"fst_lock_keys", FST_CENTRAL_SQL_LOCK_KEYS},
};

/* the parameters of one statement: text values (NULL for SQL NULL), and
 * binary ones for bytea */
#define FST_CENTRAL_MAX_PARAMS 24

typedef struct {
	gchar *values[FST_CENTRAL_MAX_PARAMS];
	gint lengths[FST_CENTRAL_MAX_PARAMS];
	gint formats[FST_CENTRAL_MAX_PARAMS];
	gint n;
} FstCentralParams;

static void
fst_central_params_clear(FstCentralParams *p)
{
	for (gint i = 0; i < p->n; i++)
		g_free(p->values[i]);
	memset(p, 0, sizeof(*p));
}

static void
fst_central_params_text(FstCentralParams *p, const gchar *value)
{
	g_assert(p->n < FST_CENTRAL_MAX_PARAMS);
	p->values[p->n] = g_strdup(value);
	p->lengths[p->n] = 0;
	p->formats[p->n] = 0;
	p->n++;
}

static void
fst_central_params_int(FstCentralParams *p, gint64 value)
{
	g_assert(p->n < FST_CENTRAL_MAX_PARAMS);
	p->values[p->n] = g_strdup_printf("%" G_GINT64_FORMAT, value);
	p->n++;
}

/* an SQLite column as a parameter: NULL stays NULL; a blob goes binary */
static void
fst_central_params_column(FstCentralParams *p, sqlite3_stmt *stmt, gint col)
{
	g_assert(p->n < FST_CENTRAL_MAX_PARAMS);
	switch (sqlite3_column_type(stmt, col)) {
	case SQLITE_NULL:
		p->values[p->n] = NULL;
		break;
	case SQLITE_BLOB: {
		gint len = sqlite3_column_bytes(stmt, col);
		p->values[p->n] = g_malloc(len > 0 ? len : 1);
		if (len > 0)
			memcpy(p->values[p->n], sqlite3_column_blob(stmt, col), len);
		p->lengths[p->n] = len;
		p->formats[p->n] = 1;
		break;
	}
	default:
		p->values[p->n] = g_strdup((const gchar *)sqlite3_column_text(stmt, col));
		break;
	}
	p->n++;
}

/* a pipeline of statements sent in one PostgreSQL transaction */
typedef struct {
	FstCentral *central;
	guint sent;
	gboolean failed;
	GError *error;
} FstCentralPipe;

static void
fst_central_pipe_send(FstCentralPipe *pipe, const gchar *name, FstCentralParams *p)
{
	if (pipe->failed)
		return;
	if (!PQsendQueryPrepared(pipe->central->conn,
	                         name,
	                         p->n,
	                         (const gchar *const *)p->values,
	                         p->lengths,
	                         p->formats,
	                         0)) {
		g_set_error(&pipe->error,
		            FST_ERROR,
		            FST_ERROR_DISCONNECTED,
		            "central registry %s: sending %s: %s",
		            pipe->central->server,
		            name,
		            PQerrorMessage(pipe->central->conn));
		pipe->failed = TRUE;
	}
	pipe->sent++;
	fst_central_params_clear(p);
}

/* ends the pipeline with a sync (the implicit transaction commits there, or
 * rolls back as a whole on the first error) and reads every result */
static gboolean
fst_central_pipe_finish(FstCentralPipe *pipe, GError **error)
{
	PGconn *conn = pipe->central->conn;
	gboolean synced = FALSE;

	if (!pipe->failed && !PQpipelineSync(conn)) {
		g_set_error(&pipe->error,
		            FST_ERROR,
		            FST_ERROR_DISCONNECTED,
		            "central registry %s: %s",
		            pipe->central->server,
		            PQerrorMessage(conn));
		pipe->failed = TRUE;
	}
	while (!pipe->failed && !synced) {
		g_autoptr(PGresult) res = PQgetResult(conn);
		ExecStatusType st;

		if (res == NULL) {
			if (PQstatus(conn) != CONNECTION_OK) {
				g_set_error(&pipe->error,
				            FST_ERROR,
				            FST_ERROR_DISCONNECTED,
				            "central registry %s: the link was lost: %s",
				            pipe->central->server,
				            PQerrorMessage(conn));
				pipe->failed = TRUE;
			}
			continue; /* the end of one statement's results */
		}
		st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			synced = TRUE;
		} else if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR ||
		           st == PGRES_BAD_RESPONSE) {
			if (pipe->error == NULL) {
				g_autofree gchar *msg =
				    g_strchomp(g_strdup(PQresultErrorMessage(res)));
				pipe->central->retryable = _fst_central_result_retryable(res);
				g_set_error(&pipe->error,
				            FST_ERROR,
				            PQstatus(conn) == CONNECTION_OK
				                ? FST_ERROR_DATABASE
				                : FST_ERROR_DISCONNECTED,
				            "central registry %s: %s",
				            pipe->central->server,
				            msg);
			}
			if (PQstatus(conn) != CONNECTION_OK)
				pipe->failed = TRUE;
		}
	}
	PQexitPipelineMode(conn);
	if (pipe->error != NULL) {
		g_propagate_error(error, g_steal_pointer(&pipe->error));
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_central_prepare_sync(FstCentral *self, GError **error)
{
	if (self->sync_prepared)
		return TRUE;
	for (guint i = 0; i < G_N_ELEMENTS(fst_central_sync_stmts); i++) {
		g_autoptr(PGresult) res = PQprepare(self->conn,
		                                    fst_central_sync_stmts[i].name,
		                                    fst_central_sync_stmts[i].sql,
		                                    0,
		                                    NULL);
		if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
			g_set_error(error,
			            FST_ERROR,
			            PQstatus(self->conn) == CONNECTION_OK ? FST_ERROR_DATABASE
			                                                  : FST_ERROR_DISCONNECTED,
			            "central registry %s: preparing %s: %s",
			            self->server,
			            fst_central_sync_stmts[i].name,
			            res != NULL ? PQresultErrorMessage(res)
			                        : PQerrorMessage(self->conn));
			return FALSE;
		}
	}
	self->sync_prepared = TRUE;
	return TRUE;
}

/* the local side: a read-only snapshot of the station file */

static gboolean
fst_central_sqlite_prepare(sqlite3 *db, const gchar *sql, sqlite3_stmt **stmt, GError **error)
{
	if (sqlite3_prepare_v2(db, sql, -1, stmt, NULL) != SQLITE_OK) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "reading the station database for the sync: %s",
		            sqlite3_errmsg(db));
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_central_read_mark(sqlite3 *db, const gchar *key, gint64 *value, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;

	*value = 0;
	if (!fst_central_sqlite_prepare(
	        db, "SELECT value FROM db_properties WHERE key = ?1", &stmt, error))
		return FALSE;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		*value = g_ascii_strtoll((const gchar *)sqlite3_column_text(stmt, 0), NULL, 10);
	return TRUE;
}

/**
 * _fst_central_open_marks:
 * @path: the station database
 * @error: (nullable): return location for a #GError
 *
 * The connection that writes the high-water marks, once the central commit
 * returned, without waiting for the disk: a mark lost in a power cut only
 * moves back, and what it covered is shipped again and changes nothing (ON
 * CONFLICT). The line's next commit syncs the write-ahead log, marks
 * included; the line itself never waits for a sync of the marks.
 *
 * That is `synchronous=NORMAL`, not OFF: this connection also checkpoints
 * (SQLite's automatic checkpoint after a commit, and at its close), which
 * folds the line's records into the database file and lets the next writer
 * start the WAL over them. With OFF that checkpoint synced nothing, and a
 * power cut after the WAL was written over lost records the line had
 * synced; with NORMAL it syncs the WAL before and the file after, as the
 * line's own connection does.
 *
 * Returns: (transfer full): the connection, or %NULL with %FST_ERROR_DATABASE
 */
sqlite3 *
_fst_central_open_marks(const gchar *path, GError **error)
{
	sqlite3 *db = NULL;

	_fst_db_sqlite_init();
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "opening %s for the central sync marks: %s",
		            path,
		            db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, FST_DB_BUSY_TIMEOUT_MS);
	return db;
}

static gboolean
fst_central_write_marks(sqlite3 *db, gint64 events, gint64 registrations, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	const struct {
		const gchar *key;
		gint64 value;
	} marks[] = {
	    {FST_CENTRAL_MARK_EVENTS, events},
	    {FST_CENTRAL_MARK_REGISTRATIONS, registrations},
	    {FST_CENTRAL_MARK_AT, g_get_real_time()},
	};

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO db_properties (key, value) VALUES (?1, ?2) "
	                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	                       -1,
	                       &stmt,
	                       NULL) != SQLITE_OK)
		goto fail;
	for (guint i = 0; i < G_N_ELEMENTS(marks); i++) {
		g_autofree gchar *value = g_strdup_printf("%" G_GINT64_FORMAT, marks[i].value);
		sqlite3_reset(stmt);
		sqlite3_bind_text(stmt, 1, marks[i].key, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, value, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(stmt) != SQLITE_DONE)
			goto fail;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return TRUE;
fail:
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_DATABASE,
	            "recording the central sync mark: %s",
	            sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return FALSE;
}

/**
 * fst_central_get_backlog:
 * @db: the station database
 * @events: (out): events not yet in the central registry
 * @registrations: (out): registrations not yet there
 * @last_sync_at: (out): when a batch last reached it (unix microseconds, 0
 *   for never)
 * @error: return location for a #GError
 *
 * Reads the station's side of the sync, without the network.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_central_get_backlog(
    FstDb *db, gint64 *events, gint64 *registrations, gint64 *last_sync_at, GError **error)
{
	g_autoptr(sqlite3) ro = _fst_db_connect_read_only(fst_db_get_path(db), error);
	g_autoptr(sqlite3_stmt) stmt = NULL;
	gint64 mark_ev = 0, mark_reg = 0;

	if (ro == NULL)
		return FALSE;
	if (!fst_central_read_mark(ro, FST_CENTRAL_MARK_EVENTS, &mark_ev, error) ||
	    !fst_central_read_mark(ro, FST_CENTRAL_MARK_REGISTRATIONS, &mark_reg, error) ||
	    !fst_central_read_mark(ro, FST_CENTRAL_MARK_AT, last_sync_at, error))
		return FALSE;
	if (!fst_central_sqlite_prepare(ro,
	                                "SELECT (SELECT count(*) FROM events WHERE id > ?1),"
	                                " (SELECT count(*) FROM registrations WHERE id > ?2)",
	                                &stmt,
	                                error))
		return FALSE;
	sqlite3_bind_int64(stmt, 1, mark_ev);
	sqlite3_bind_int64(stmt, 2, mark_reg);
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "counting the backlog: %s",
		            sqlite3_errmsg(ro));
		return FALSE;
	}
	*events = sqlite3_column_int64(stmt, 0);
	*registrations = sqlite3_column_int64(stmt, 1);
	return TRUE;
}

/* the station's central id; refuses a name another station database uses */
static gboolean
fst_central_ensure_station(FstCentral *self,
                           const gchar *station,
                           const gchar *database_id,
                           gint64 *central_id,
                           GError **error)
{
	const gchar *params[] = {station, database_id, g_get_host_name()};
	g_autoptr(PGresult) res = NULL;
	g_autofree gchar *known = NULL;

	/* once per connection and station */
	if (self->sync_station_id > 0 && g_strcmp0(self->sync_station, station) == 0 &&
	    g_strcmp0(self->sync_database_id, database_id) == 0) {
		*central_id = self->sync_station_id;
		return TRUE;
	}

	res = fst_central_exec(
	    self,
	    "INSERT INTO stations AS s (name, database_id, host) VALUES ($1, $2, $3) "
	    "ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host,"
	    "  database_id = coalesce(s.database_id, EXCLUDED.database_id) "
	    "RETURNING id, database_id",
	    3,
	    params,
	    NULL,
	    NULL,
	    "registering the station",
	    error);
	if (res == NULL)
		return FALSE;
	known = fst_central_get_text(res, 0, 1);
	if (database_id != NULL && g_strcmp0(known, database_id) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "station name %s is already used in the central registry %s by "
		            "another station database (%s, this one is %s): give each station "
		            "its own name in station.conf",
		            station,
		            self->server,
		            known,
		            database_id);
		return FALSE;
	}
	*central_id = fst_central_get_int(res, 0, 0);
	g_free(self->sync_station);
	g_free(self->sync_database_id);
	self->sync_station = g_strdup(station);
	self->sync_database_id = g_strdup(database_id);
	self->sync_station_id = *central_id;
	return TRUE;
}

/* one row bound by the events of the snapshot: the last event binding it */
#define FST_CENTRAL_ROW_KEY(table, id) FST_DB_DIRTY_KEY(table, id)

static void
fst_central_scan_bindings(sqlite3_stmt *ev, gint64 event_id, gint col, GHashTable *last)
{
	const guint8 *rows = sqlite3_column_blob(ev, col);
	gsize len = (gsize)sqlite3_column_bytes(ev, col);

	for (gsize off = 0; rows != NULL && off + FST_AUDIT_BINDING_LEN <= len;
	     off += FST_AUDIT_BINDING_LEN) {
		guint64 id = 0;
		for (guint i = 0; i < 8; i++)
			id = (id << 8) | rows[off + 1 + i];
		g_hash_table_insert(last,
		                    GSIZE_TO_POINTER(FST_CENTRAL_ROW_KEY(rows[off], id)),
		                    GSIZE_TO_POINTER(event_id));
	}
}

typedef struct {
	FstCentral *central;
	sqlite3 *ro;
	gchar *station_id; /* the central id, as text */
	sqlite3_stmt *device;
	sqlite3_stmt *cert;
	sqlite3_stmt *object;
	GHashTable *last; /* row key -> the last event of the snapshot binding it */
	FstCentralSyncStats *stats;
} FstCentralSyncCtx;

static void
fst_central_sync_ctx_clear(FstCentralSyncCtx *ctx)
{
	g_free(ctx->station_id);
	sqlite3_finalize(ctx->device);
	sqlite3_finalize(ctx->cert);
	sqlite3_finalize(ctx->object);
	if (ctx->last != NULL)
		g_hash_table_unref(ctx->last);
}

/* the SHA-256 the key of certificate @der is filed under, lower-case hex,
 * or %NULL for DER that is not a certificate's */
static gchar *
fst_central_der_key_sha256(gconstpointer der, gsize der_len)
{
	const guchar *serial = NULL;
	const guchar *spki = NULL;
	gsize serial_len = 0;
	gsize spki_len = 0;
	guint8 key[32];
	gchar hex[65];

	if (der == NULL ||
	    !_fst_db_der_fields(der, der_len, &serial, &serial_len, &spki, &spki_len))
		return NULL;
	fst_crypto_public_key_sha256(spki, spki_len, key);
	fst_crypto_hex_into(hex, sizeof(hex), key, sizeof(key), FALSE);
	return g_strdup(hex);
}

/* the same for the certificate DER in column @col */
static gchar *
fst_central_cert_key_sha256(sqlite3_stmt *stmt, gint col)
{
	return fst_central_der_key_sha256(sqlite3_column_blob(stmt, col),
	                                  (gsize)sqlite3_column_bytes(stmt, col));
}

/* the advisory lock that stands for key @hex: its first 32 bits (two keys
 * that share them only wait for each other) */
static guint32
fst_central_key_lock_id(const gchar *hex)
{
	guint32 lock = 0;
	for (guint j = 0; j < 8; j++)
		lock = (lock << 4) | (guint32)g_ascii_xdigit_value(hex[j]);
	return lock;
}

/* @locks (fst_central_key_lock_id()) as the parameter of
 * FST_CENTRAL_SQL_LOCK_KEYS, an array of integers */
static gchar *
fst_central_key_locks_param(GArray *locks)
{
	GString *str = g_string_new("{");
	for (guint i = 0; i < locks->len; i++)
		g_string_append_printf(str,
		                       "%s%" G_GINT32_FORMAT,
		                       i > 0 ? "," : "",
		                       (gint32)g_array_index(locks, guint32, i));
	g_string_append_c(str, '}');
	return g_string_free(str, FALSE);
}

/* sends the current content of one bound row, if it is one the registry
 * keeps (devices, certificates, objects); names ride along by value */
static gboolean
fst_central_send_row(
    FstCentralSyncCtx *ctx, FstCentralPipe *pipe, FstAuditTable table, gint64 id, GError **error)
{
	FstCentralParams p = {0};
	sqlite3_stmt *stmt;
	const gchar *name;
	gint ncol;

	switch (table) {
	case FST_AUDIT_TABLE_DEVICES:
		stmt = ctx->device;
		name = "fst_device";
		break;
	case FST_AUDIT_TABLE_CERTIFICATES:
		stmt = ctx->cert;
		name = "fst_cert";
		break;
	case FST_AUDIT_TABLE_DEVICE_OBJECTS:
		stmt = ctx->object;
		name = "fst_object";
		break;
	default:
		return TRUE;
	}
	sqlite3_reset(stmt);
	sqlite3_bind_int64(stmt, 1, id);
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		/* bound, then gone: the station's own audit reports it; the
		 * registry ships what is there */
		g_debug(
		    "bound %s row %" G_GINT64_FORMAT " not found", fst_audit_table_name(table), id);
		return TRUE;
	}
	fst_central_params_text(&p, ctx->station_id);
	ncol = sqlite3_column_count(stmt);
	for (gint i = 0; i < ncol; i++)
		fst_central_params_column(&p, stmt, i);
	/* a certificate's key, as its station files it: one key, one device
	 * across the stations */
	if (table == FST_AUDIT_TABLE_CERTIFICATES) {
		g_autofree gchar *key = fst_central_cert_key_sha256(stmt, 6);
		fst_central_params_text(&p, key);
	}
	fst_central_pipe_send(pipe, name, &p);
	ctx->stats->rows++;
	/* a certificate in service ends its station's reservation of the device */
	if (table == FST_AUDIT_TABLE_CERTIFICATES) {
		const gchar *state = (const gchar *)sqlite3_column_text(stmt, 11);
		if (g_strcmp0(state, "verified") == 0 || g_strcmp0(state, "registered") == 0) {
			fst_central_params_text(&p, ctx->station_id);
			fst_central_params_text(&p, (const gchar *)sqlite3_column_text(stmt, 2));
			fst_central_pipe_send(pipe, "fst_release", &p);
		}
	}
	(void)error;
	return TRUE;
}

/* locks the keys of the certificates among @rows for the batch's
 * transaction (FST_CENTRAL_SQL_LOCK_KEYS) */
static void
fst_central_lock_keys(FstCentralSyncCtx *ctx, FstCentralPipe *pipe, GArray *rows)
{
	g_autoptr(GArray) locks = g_array_new(FALSE, FALSE, sizeof(guint32));

	for (guint i = 0; i < rows->len; i++) {
		guint64 key = g_array_index(rows, guint64, i);
		g_autofree gchar *hex = NULL;
		guint32 lock;

		if (FST_DB_DIRTY_TABLE(key) != FST_AUDIT_TABLE_CERTIFICATES)
			continue;
		sqlite3_reset(ctx->cert);
		sqlite3_bind_int64(ctx->cert, 1, FST_DB_DIRTY_ID(key));
		if (sqlite3_step(ctx->cert) != SQLITE_ROW)
			continue;
		hex = fst_central_cert_key_sha256(ctx->cert, 6);
		if (hex == NULL)
			continue;
		lock = fst_central_key_lock_id(hex);
		g_array_append_val(locks, lock);
	}
	if (locks->len > 0) {
		FstCentralParams p = {0};
		g_autofree gchar *param = fst_central_key_locks_param(locks);
		fst_central_params_text(&p, param);
		fst_central_pipe_send(pipe, "fst_lock_keys", &p);
	}
}

/* the columns of each shipped table, in the order of its fst_* statement
 * after the station id */
static const gchar *fst_central_sql_device =
    "SELECT d.id, d.uid, d.model, d.firmware, d.protocol_version, d.key_types, d.validation,"
    " d.port, d.state, d.last_error, o.name, l.name, d.created_at, d.updated_at"
    " FROM devices d LEFT JOIN operators o ON o.id = d.operator_id"
    " LEFT JOIN lots l ON l.id = d.lot_id WHERE d.id = ?1";
static const gchar *fst_central_sql_cert =
    "SELECT c.id, c.device_id, d.uid, c.serial_hex, coalesce(a.sha256, ''), c.aws_cert_id, c.der,"
    " c.subject, c.key_type, c.not_before, c.not_after, c.state, c.slot, p.name,"
    " p.content_sha256, o.name, l.name, c.created_at, c.updated_at, c.revoked_at,"
    " c.revocation_reason"
    " FROM certificates c JOIN devices d ON d.id = c.device_id"
    " LEFT JOIN cas a ON a.id = c.ca_id LEFT JOIN profiles p ON p.id = c.profile_id"
    " LEFT JOIN operators o ON o.id = c.operator_id LEFT JOIN lots l ON l.id = c.lot_id"
    " WHERE c.id = ?1";
static const gchar *fst_central_sql_object =
    "SELECT id, device_id, certificate_id, kind, sha256, length, contents, written_at"
    " FROM device_objects WHERE id = ?1";

/**
 * fst_central_sync:
 * @self: a connection to the central registry, schema checked
 * @db: the station database
 * @station: the station's name
 * @batch_events: events per batch (one central transaction), 0 for 500
 * @max_batches: batches in this call (one local snapshot), 0 for no limit
 * @stats: (out caller-allocates) (optional): what was shipped
 * @error: return location for a #GError
 *
 * Ships the station's records after its high-water marks. Each batch is
 * committed centrally before the marks move; a call that fails (the link
 * lost, the server stopped) leaves the marks at the last batch committed,
 * and the next call starts there.
 *
 * Returns: %TRUE when everything of the snapshot (or @max_batches of it) was
 *   shipped; %FALSE with %FST_ERROR_DISCONNECTED for a lost link
 */
gboolean
fst_central_sync(FstCentral *self,
                 FstDb *db,
                 const gchar *station,
                 guint batch_events,
                 guint max_batches,
                 FstCentralSyncStats *stats,
                 GError **error)
{
	g_autoptr(sqlite3) ro = NULL;
	g_autoptr(sqlite3) marks = NULL;
	g_autoptr(sqlite3_stmt) ev = NULL;
	g_autoptr(sqlite3_stmt) scan = NULL;
	g_autoptr(sqlite3_stmt) reg = NULL;
	FstCentralSyncStats stats_local = {0};
	FstCentralSyncCtx ctx = {0};
	g_autofree gchar *database_id = NULL;
	gint64 mark_ev = 0, mark_reg = 0, snapshot_max = 0, central_id = 0;
	gboolean ok = FALSE;
	gboolean locked = FALSE;

	if (stats == NULL)
		stats = &stats_local;
	memset(stats, 0, sizeof(*stats));
	if (batch_events == 0)
		batch_events = 500;
	ro = _fst_db_connect_read_only(fst_db_get_path(db), error);
	if (ro == NULL)
		return FALSE;
	sqlite3_busy_timeout(ro, FST_DB_BUSY_TIMEOUT_MS);
	/* one snapshot for the whole call */
	if (sqlite3_exec(ro, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "starting the sync snapshot: %s",
		            sqlite3_errmsg(ro));
		return FALSE;
	}
	{
		g_autoptr(sqlite3_stmt) q = NULL;
		if (!fst_central_sqlite_prepare(
		        ro,
		        "SELECT (SELECT value FROM db_properties WHERE key = 'database-id'),"
		        " (SELECT max(id) FROM events)",
		        &q,
		        error))
			goto out;
		if (sqlite3_step(q) != SQLITE_ROW) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_DATABASE,
			            "reading the station database: %s",
			            sqlite3_errmsg(ro));
			goto out;
		}
		database_id = _fst_db_column_strdup(q, 0);
		snapshot_max = sqlite3_column_int64(q, 1);
	}
	if (!fst_central_read_mark(ro, FST_CENTRAL_MARK_EVENTS, &mark_ev, error) ||
	    !fst_central_read_mark(ro, FST_CENTRAL_MARK_REGISTRATIONS, &mark_reg, error))
		goto out;
	if (max_batches > 0 && snapshot_max > mark_ev + (gint64)batch_events * max_batches)
		snapshot_max = mark_ev + (gint64)batch_events * max_batches;
	/* nothing new: no traffic at all (the worker looks every interval) */
	if (snapshot_max <= mark_ev) {
		g_autoptr(sqlite3_stmt) q = NULL;
		if (!fst_central_sqlite_prepare(ro, "SELECT max(id) FROM registrations", &q, error))
			goto out;
		if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) <= mark_reg) {
			stats->head_id = mark_ev;
			ok = TRUE;
			goto out;
		}
	}

	if (!fst_central_ensure_station(self, station, database_id, &central_id, error) ||
	    !fst_central_prepare_sync(self, error))
		goto out;
	/* one sync per station at a time (the job's worker, a `central sync`):
	 * the other finds the lock taken and leaves the work to the first */
	{
		g_autofree gchar *id_str = g_strdup_printf("%" G_GINT64_FORMAT, central_id);
		const gchar *params[] = {id_str};
		g_autoptr(PGresult) res = fst_central_exec(
		    self,
		    "SELECT pg_try_advisory_lock(" FST_CENTRAL_SYNC_LOCK ", $1::integer)",
		    1,
		    params,
		    NULL,
		    NULL,
		    "locking the station's sync",
		    error);
		if (res == NULL)
			goto out;
		if (g_strcmp0(PQgetvalue(res, 0, 0), "t") != 0) {
			stats->busy = TRUE;
			ok = TRUE;
			goto out;
		}
		locked = TRUE;
	}
	ctx.central = self;
	ctx.ro = ro;
	ctx.stats = stats;
	ctx.station_id = g_strdup_printf("%" G_GINT64_FORMAT, central_id);
	ctx.last = g_hash_table_new(g_direct_hash, g_direct_equal);
	if (!fst_central_sqlite_prepare(ro, fst_central_sql_device, &ctx.device, error) ||
	    !fst_central_sqlite_prepare(ro, fst_central_sql_cert, &ctx.cert, error) ||
	    !fst_central_sqlite_prepare(ro, fst_central_sql_object, &ctx.object, error))
		goto out;

	/* which event of the snapshot binds each row last: a row goes with that
	 * event's batch, so that its central copy is the one the chain binds */
	if (!fst_central_sqlite_prepare(
	        ro,
	        "SELECT id, rows FROM events WHERE id > ?1 AND id <= ?2 ORDER BY id",
	        &scan,
	        error))
		goto out;
	sqlite3_bind_int64(scan, 1, mark_ev);
	sqlite3_bind_int64(scan, 2, snapshot_max);
	while (sqlite3_step(scan) == SQLITE_ROW)
		fst_central_scan_bindings(scan, sqlite3_column_int64(scan, 0), 1, ctx.last);

	if (!fst_central_sqlite_prepare(
	        ro,
	        "SELECT id, device_id, station_id, operator_id, lot_id, step,"
	        " started_at, ended_at, outcome, detail, hash, rows"
	        " FROM events WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
	        &ev,
	        error) ||
	    !fst_central_sqlite_prepare(ro,
	                                "SELECT id, certificate_id, target, action, created_at"
	                                " FROM registrations WHERE id > ?1 ORDER BY id LIMIT ?2",
	                                &reg,
	                                error))
		goto out;

	for (guint tries = 1;; tries++) {
		FstCentralPipe pipe = {.central = self};
		gint64 batch_last = mark_ev, reg_last = mark_reg;
		gint64 rows_before = stats->rows;
		g_autoptr(GError) error_batch = NULL;
		g_autofree gchar *head_hash = NULL;
		g_autoptr(GArray) rows = g_array_new(FALSE, FALSE, sizeof(guint64));
		gint64 n_events = 0, n_regs = 0;

		if (!PQenterPipelineMode(self->conn)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_DISCONNECTED,
			            "central registry %s: %s",
			            self->server,
			            PQerrorMessage(self->conn));
			goto out;
		}
		sqlite3_reset(ev);
		sqlite3_bind_int64(ev, 1, mark_ev);
		sqlite3_bind_int64(ev, 2, snapshot_max);
		sqlite3_bind_int64(ev, 3, batch_events);
		while (sqlite3_step(ev) == SQLITE_ROW) {
			FstCentralParams p = {0};
			const guint8 *bind = sqlite3_column_blob(ev, 11);
			gsize bind_len = (gsize)sqlite3_column_bytes(ev, 11);

			batch_last = sqlite3_column_int64(ev, 0);
			fst_central_params_text(&p, ctx.station_id);
			for (gint i = 0; i < 12; i++)
				fst_central_params_column(&p, ev, i);
			g_free(head_hash);
			head_hash = fst_audit_hash_from_bytes(sqlite3_column_blob(ev, 10),
			                                      (gsize)sqlite3_column_bytes(ev, 10));
			fst_central_pipe_send(&pipe, "fst_event", &p);
			n_events++;
			for (gsize off = 0; bind != NULL && off + FST_AUDIT_BINDING_LEN <= bind_len;
			     off += FST_AUDIT_BINDING_LEN) {
				guint64 id = 0;
				guint64 key;
				for (guint i = 0; i < 8; i++)
					id = (id << 8) | bind[off + 1 + i];
				key = FST_CENTRAL_ROW_KEY(bind[off], id);
				if (GPOINTER_TO_SIZE(g_hash_table_lookup(
				        ctx.last, GSIZE_TO_POINTER(key))) == (gsize)batch_last)
					g_array_append_val(rows, key);
			}
		}
		/* one key, one device across the stations: the keys of the
		 * batch's certificates are locked before any of them is written
		 * (in one order, so that two batches never wait on each other),
		 * and held until the batch commits, so that a station shipping a
		 * certificate for one of these keys at the same moment waits, and
		 * its fst_certificate_conflict() then sees this batch's rows
		 * (each statement reads what was committed before it began) */
		fst_central_lock_keys(&ctx, &pipe, rows);
		/* rows after their events: devices before certificates before
		 * objects, as a station writes them */
		for (FstAuditTable t = FST_AUDIT_TABLE_DEVICES; t <= FST_AUDIT_TABLE_DEVICE_OBJECTS;
		     t++) {
			for (guint i = 0; i < rows->len; i++) {
				guint64 key = g_array_index(rows, guint64, i);
				if (FST_DB_DIRTY_TABLE(key) != t)
					continue;
				fst_central_send_row(&ctx, &pipe, t, FST_DB_DIRTY_ID(key), NULL);
			}
		}
		/* registrations rows of certificates already shipped */
		sqlite3_reset(reg);
		sqlite3_bind_int64(reg, 1, mark_reg);
		sqlite3_bind_int64(reg, 2, batch_events);
		while (sqlite3_step(reg) == SQLITE_ROW) {
			FstCentralParams p = {0};
			reg_last = sqlite3_column_int64(reg, 0);
			fst_central_params_text(&p, ctx.station_id);
			for (gint i = 0; i < 5; i++)
				fst_central_params_column(&p, reg, i);
			fst_central_pipe_send(&pipe, "fst_registration", &p);
			n_regs++;
		}
		if (n_events == 0 && n_regs == 0) {
			PQexitPipelineMode(self->conn);
			break;
		}
		if (n_events > 0) {
			FstCentralParams p = {0};
			fst_central_params_text(&p, ctx.station_id);
			fst_central_params_int(&p, batch_last);
			fst_central_params_text(&p, head_hash);
			fst_central_pipe_send(&pipe, "fst_head", &p);
		}
		self->retryable = FALSE;
		if (!fst_central_pipe_finish(&pipe, &error_batch)) {
			/* rolled back whole by the server (a deadlock with another
			 * station's batch over a key and a device): sent again */
			if (self->retryable && tries < FST_CENTRAL_TRIES) {
				g_debug("sync batch after event %" G_GINT64_FORMAT
				        " sent again: %s",
				        mark_ev,
				        error_batch->message);
				stats->rows = rows_before;
				stats->retried++;
				continue;
			}
			g_propagate_error(error, g_steal_pointer(&error_batch));
			goto out;
		}
		tries = 0;
		/* committed centrally: now the marks */
		if (marks == NULL &&
		    (marks = _fst_central_open_marks(fst_db_get_path(db), error)) == NULL)
			goto out;
		if (!fst_central_write_marks(marks, batch_last, reg_last, error))
			goto out;
		mark_ev = batch_last;
		mark_reg = reg_last;
		stats->batches++;
		stats->events += n_events;
		stats->registrations += n_regs;
		stats->head_id = mark_ev;
		if (max_batches > 0 && stats->batches >= max_batches)
			break;
	}
	if (stats->batches > 0) {
		g_autoptr(PGresult) res = NULL;
		const gchar *params[] = {ctx.station_id};
		res = fst_central_exec(
		    self,
		    "SELECT count(*) FROM conflicts f JOIN stations s ON s.name = f.station "
		    "WHERE s.id = $1",
		    1,
		    params,
		    NULL,
		    NULL,
		    "counting conflicts",
		    error);
		if (res == NULL)
			goto out;
		stats->conflicts = fst_central_get_int(res, 0, 0);
	}
	ok = TRUE;
out:
	if (locked && fst_central_is_connected(self)) {
		g_autofree gchar *id_str = g_strdup_printf("%" G_GINT64_FORMAT, central_id);
		const gchar *params[] = {id_str};
		g_autoptr(PGresult) res = fst_central_exec(
		    self,
		    "SELECT pg_advisory_unlock(" FST_CENTRAL_SYNC_LOCK ", $1::integer)",
		    1,
		    params,
		    NULL,
		    NULL,
		    "unlocking the station's sync",
		    NULL);
	}
	sqlite3_exec(ro, "COMMIT", NULL, NULL, NULL);
	fst_central_sync_ctx_clear(&ctx);
	return ok;
}

/* the certificates of one batch of fst_central_fill_keys(): their keys
 * locked, then each filled in, in the order given (a certificate sees the
 * keys of those before it) */
static gboolean
fst_central_fill_keys_batch(FstCentral *self,
                            const PGresult *ids,
                            gint first,
                            gint n,
                            guint *filled,
                            guint *flagged,
                            GError **error)
{
	g_autoptr(GString) stations = g_string_new("{");
	g_autoptr(GString) locals = g_string_new("{");
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GArray) locks = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autoptr(PGresult) rows = NULL;

	for (gint i = first; i < first + n; i++) {
		g_string_append_printf(
		    stations, "%s%s", i > first ? "," : "", PQgetvalue(ids, i, 0));
		g_string_append_printf(locals, "%s%s", i > first ? "," : "", PQgetvalue(ids, i, 1));
	}
	g_string_append_c(stations, '}');
	g_string_append_c(locals, '}');
	{
		/* in the order given; those filled meanwhile (a sync) left out */
		const gchar *params[] = {stations->str, locals->str};
		rows = fst_central_exec(
		    self,
		    "SELECT c.station_id, c.local_id, c.der FROM certificates c"
		    " JOIN unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS t(s, l, n)"
		    "   ON c.station_id = t.s AND c.local_id = t.l"
		    " WHERE c.key_sha256 IS NULL ORDER BY t.n",
		    2,
		    params,
		    NULL,
		    NULL,
		    "reading certificates without their key",
		    error);
		if (rows == NULL)
			return FALSE;
	}
	/* each row's key, NULL for DER that is not a certificate's */
	for (gint i = 0; i < PQntuples(rows); i++) {
		g_autoptr(GBytes) der = fst_central_get_bytea(rows, i, 2);
		gsize len = 0;
		gconstpointer data = der != NULL ? g_bytes_get_data(der, &len) : NULL;
		gchar *hex = fst_central_der_key_sha256(data, len);

		g_ptr_array_add(keys, hex);
		if (hex != NULL) {
			guint32 lock = fst_central_key_lock_id(hex);
			g_array_append_val(locks, lock);
		} else {
			g_debug("certificate %s of station %s: its DER is not a certificate's, no "
			        "key to file",
			        PQgetvalue(rows, i, 1),
			        PQgetvalue(rows, i, 0));
		}
	}
	if (locks->len == 0)
		return TRUE;
	if (!fst_central_exec_simple(self, "BEGIN", "starting to fill in keys", error))
		return FALSE;
	{
		g_autofree gchar *param = fst_central_key_locks_param(locks);
		const gchar *params[] = {param};
		g_autoptr(PGresult) res = fst_central_exec(
		    self, FST_CENTRAL_SQL_LOCK_KEYS, 1, params, NULL, NULL, "locking keys", error);
		if (res == NULL)
			goto fail;
	}
	for (gint i = 0; i < PQntuples(rows); i++) {
		const gchar *params[] = {
		    PQgetvalue(rows, i, 0), PQgetvalue(rows, i, 1), g_ptr_array_index(keys, i)};
		g_autoptr(PGresult) res = NULL;

		if (params[2] == NULL)
			continue;
		/* with no issuer and no state, fst_certificate_conflict() can
		 * only find the key's conflict: the certificate's serial and
		 * service were checked when it was written */
		res = fst_central_exec(
		    self,
		    "UPDATE certificates SET key_sha256 = $3, conflict = coalesce(conflict,"
		    "  fst_certificate_conflict(station_id, local_id, NULL, serial_hex, device_uid,"
		    "  NULL, $3))"
		    " WHERE station_id = $1::bigint AND local_id = $2::bigint"
		    "  AND key_sha256 IS NULL"
		    " RETURNING conflict LIKE 'key:%'",
		    3,
		    params,
		    NULL,
		    NULL,
		    "filling in a key",
		    error);
		if (res == NULL)
			goto fail;
		if (PQntuples(res) == 1) {
			(*filled)++;
			if (g_strcmp0(PQgetvalue(res, 0, 0), "t") == 0)
				(*flagged)++;
		}
	}
	return fst_central_exec_simple(self, "COMMIT", "committing the keys filled in", error);
fail:
	fst_central_exec_simple(self, "ROLLBACK", "rolling back", NULL);
	return FALSE;
}

/**
 * fst_central_fill_keys:
 * @self: a connection to the central registry, schema checked
 * @filled: (out): the certificates whose key was filled in
 * @flagged: (out): how many of them were flagged `key`
 * @error: return location for a #GError
 *
 * Files the key of every certificate shipped without it (before central
 * schema version 3), read from its DER, so that the key check covers the
 * registry's whole history: oldest first, each checked against the keys
 * filed before it (fst_certificate_conflict()), so that of two devices
 * sharing a key the one certified later is flagged `key`. Each batch holds
 * the locks of its keys, as a sync does. A certificate whose DER is not a
 * certificate's keeps no key. Safe to run again, and beside syncs.
 *
 * Returns: %TRUE when every certificate without a key was looked at
 */
gboolean
fst_central_fill_keys(FstCentral *self, guint *filled, guint *flagged, GError **error)
{
	g_autoptr(PGresult) ids = NULL;

	*filled = 0;
	*flagged = 0;
	ids =
	    fst_central_exec(self,
	                     "SELECT station_id, local_id FROM certificates"
	                     " WHERE key_sha256 IS NULL ORDER BY created_at, station_id, local_id",
	                     0,
	                     NULL,
	                     NULL,
	                     NULL,
	                     "listing certificates without their key",
	                     error);
	if (ids == NULL)
		return FALSE;
	for (gint first = 0; first < PQntuples(ids); first += 500) {
		gint n = MIN(500, PQntuples(ids) - first);
		for (guint tries = 1;; tries++) {
			g_autoptr(GError) error_batch = NULL;
			guint filled_batch = 0, flagged_batch = 0;

			self->retryable = FALSE;
			if (fst_central_fill_keys_batch(
			        self, ids, first, n, &filled_batch, &flagged_batch, &error_batch)) {
				*filled += filled_batch;
				*flagged += flagged_batch;
				break;
			}
			if (!self->retryable || tries >= FST_CENTRAL_TRIES) {
				g_propagate_error(error, g_steal_pointer(&error_batch));
				return FALSE;
			}
			g_debug("key fill batch sent again: %s", error_batch->message);
		}
	}
	return TRUE;
}
