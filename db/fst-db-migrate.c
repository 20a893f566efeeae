/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstDb"

#include "fst-config.h"

#include "fst-db-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fst-crypto.h"
#include "fst-error.h"
#include "fst-openssl-common.h"

/*
 * The station database (db/schema.md): the schema ladder: one function per version, each run in its
 * own transaction by _fst_db_migrate() (db/schema.md, "Migration policy").
 */

/*
 * The step to version 1, the first schema. Never edit this once released: change the schema by
 * adding fst_db_migrate_v2() and so on, and document it in db/schema.md. Times are integer unix
 * microseconds in UTC unless the column says otherwise.
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

	if (!_fst_db_exec(self, fst_db_schema_v1, "create the schema v1 tables", error))
		return FALSE;

	/* a stable identity for reports and audits, which outlives file renames */
	stmt = _fst_db_prepare(self,
	                       "INSERT INTO db_properties (key, value) VALUES "
	                       "('database-id', ?1), ('created-at', ?2)",
	                       "record the database identity",
	                       error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_text(stmt, 1, uuid, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 2, now, -1, SQLITE_TRANSIENT);
	if (!_fst_db_check_bind(self, rc, "record the database identity", error))
		return FALSE;
	return _fst_db_step_done(self, stmt, "record the database identity", error);
}

/*
 * The step to version 2: who and what (operators, lots, profiles with their content hash),
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

/* fills the chain hash of the events a v1 file holds, in id order */
static gboolean
fst_db_chain_existing_events(FstDb *self, GError **error)
{
	g_autoptr(FstDbStmt) sel = NULL;
	g_autoptr(FstDbStmt) upd = NULL;
	g_autofree gchar *prev = g_strdup(FST_AUDIT_GENESIS);
	const gchar *what = "chain the existing events";
	gint rc;

	sel = _fst_db_prepare(self,
	                      "SELECT id, device_id, station_id, step, started_at, ended_at, "
	                      "outcome, detail FROM events ORDER BY id",
	                      what,
	                      error);
	upd = _fst_db_prepare(self, "UPDATE events SET hash = ?1 WHERE id = ?2", what, error);
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
		if (!_fst_db_check_bind(self, brc, what, error) ||
		    !_fst_db_step_done(self, upd, what, error))
			return FALSE;
		g_free(prev);
		prev = g_steal_pointer(&hash);
	}
	if (rc != SQLITE_DONE)
		return _fst_db_set_error(self, error, rc, "trying to %s", what);
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

	sel = _fst_db_prepare(self,
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
		if (!_fst_db_insert_event_locked(self,
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
		return _fst_db_set_error(self, error, rc, "trying to %s", what);
	return TRUE;
}

static gboolean
fst_db_migrate_v2(FstDb *self, GError **error)
{
	if (!_fst_db_exec(self, fst_db_schema_v2, "create the schema v2 tables", error))
		return FALSE;
	if (!fst_db_chain_existing_events(self, error))
		return FALSE;
	return fst_db_chain_existing_certificates(self, error);
}

/* the step to version 3: smaller per device (db/schema.md, "Changes in v3"). Objects
 * are looked up by device only; nothing selects them by certificate, and
 * certificates are never deleted, so the foreign key needs no index either:
 * dropping it saves about 36 bytes per device */
static const gchar fst_db_schema_v3[] = "DROP INDEX device_objects_certificate;";

static gboolean
fst_db_migrate_v3(FstDb *self, GError **error)
{
	return _fst_db_exec(
	    self, fst_db_schema_v3, "drop the index device_objects_certificate", error);
}

/*
 * The step to version 4 (db/schema.md, "Changes in v4"): the `superseded` certificate
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
	return _fst_db_exec(self, fst_db_schema_v4, "create the schema v4 tables", error);
}

/*
 * The step to version 5 (db/schema.md, "Changes in v5"): the `interrupted` certificate
 * state (the certificates table is rebuilt for its CHECK, with the view that
 * reads it) and the row bindings of the audit chain (`events.rows`).
 */
static const gchar fst_db_schema_v5[] =
    "DROP VIEW certificate_details;"
    "CREATE TABLE certificates_v5 ("
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
    "    'revoked', 'interrupted')),"
    "  slot INTEGER NOT NULL DEFAULT 0 CHECK (slot IN (0, 1)),"
    "  station_id INTEGER REFERENCES stations(id),"
    "  profile_id INTEGER REFERENCES profiles(id),"
    "  operator_id INTEGER REFERENCES operators(id),"
    "  lot_id INTEGER REFERENCES lots(id),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  revoked_at INTEGER,"
    "  revocation_reason TEXT);"
    "INSERT INTO certificates_v5 SELECT id, device_id, serial_hex, aws_cert_id, der, subject,"
    "  key_type, not_before, not_after, ca_id, state, slot, station_id, profile_id,"
    "  operator_id, lot_id, created_at, updated_at, revoked_at, revocation_reason"
    "  FROM certificates ORDER BY id;"
    "DROP TABLE certificates;"
    "ALTER TABLE certificates_v5 RENAME TO certificates;"
    "CREATE INDEX certificates_device ON certificates(device_id, id);"
    "CREATE INDEX certificates_ca ON certificates(ca_id);"
    "CREATE VIEW certificate_details AS SELECT c.id, d.uid AS device_uid, c.serial_hex,"
    "  c.aws_cert_id, a.sha256 AS issuer_sha256, p.name AS profile,"
    "  p.content_sha256 AS profile_sha256, c.state, c.slot, c.subject, c.key_type,"
    "  c.not_before, c.not_after, s.name AS station, o.name AS operator, l.name AS lot,"
    "  c.created_at, c.updated_at, c.revoked_at, c.revocation_reason"
    "  FROM certificates c JOIN devices d ON d.id = c.device_id"
    "  LEFT JOIN cas a ON a.id = c.ca_id LEFT JOIN profiles p ON p.id = c.profile_id"
    "  LEFT JOIN stations s ON s.id = c.station_id LEFT JOIN operators o ON o.id = c.operator_id"
    "  LEFT JOIN lots l ON l.id = c.lot_id;"
    "ALTER TABLE events ADD COLUMN rows BLOB;";

/* bindings per `records` event when every row is bound at once (~170 KB) */
#define FST_DB_BIND_ALL_CHUNK 4096

static gboolean
fst_db_bind_table_flush(
    FstDb *self, FstAuditTable table, GByteArray *rows, gint64 first, gint64 last, GError **error)
{
	g_autoptr(GBytes) bytes = NULL;
	g_autofree gchar *detail = NULL;
	gint64 now = g_get_real_time();

	if (rows->len == 0)
		return TRUE;
	bytes = g_bytes_new(rows->data, rows->len);
	detail = g_strdup_printf("rows of %s bound to the audit chain: ids %" G_GINT64_FORMAT
	                         " to %" G_GINT64_FORMAT " (schema migration v5)",
	                         fst_audit_table_name(table),
	                         first,
	                         last);
	g_byte_array_set_size(rows, 0);
	return _fst_db_insert_event_rows_locked(
	    self, 0, 0, "records", now, now, "ok", detail, bytes, error);
}

/* binds every row of every bound table, in `records` events */
static gboolean
fst_db_bind_all_rows(FstDb *self, GError **error)
{
	for (guint t = 1; t < FST_AUDIT_TABLE_LAST; t++) {
		g_autofree gchar *sql =
		    g_strdup_printf("SELECT * FROM %s ORDER BY rowid", fst_audit_table_name(t));
		g_autofree gchar *what = g_strdup_printf("bind the rows of %s to the audit chain",
		                                         fst_audit_table_name(t));
		g_autoptr(GByteArray) rows = g_byte_array_new();
		g_autoptr(sqlite3_stmt) stmt = NULL;
		gint64 first = 0;
		gint64 last = 0;
		gint rc;

		rc = sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL);
		if (rc != SQLITE_OK)
			return _fst_db_set_error(self, error, rc, "trying to %s", what);
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			guint8 hash[FST_AUDIT_HASH_LEN];
			gint64 id = sqlite3_column_int64(stmt, 0);
			if (rows->len == 0)
				first = id;
			last = id;
			fst_audit_row_hash(stmt, t, hash);
			fst_audit_binding_append(rows, t, id, hash);
			if (rows->len >= FST_DB_BIND_ALL_CHUNK * FST_AUDIT_BINDING_LEN &&
			    !fst_db_bind_table_flush(self, t, rows, first, last, error))
				return FALSE;
		}
		if (rc != SQLITE_DONE)
			return _fst_db_set_error(self, error, rc, "trying to %s", what);
		if (!fst_db_bind_table_flush(self, t, rows, first, last, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
fst_db_migrate_v5(FstDb *self, GError **error)
{
	g_autoptr(GArray) devices = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_autoptr(sqlite3_stmt) stmt = NULL;
	gint rc;

	if (!_fst_db_exec(self, fst_db_schema_v5, "create the schema v5 tables", error))
		return FALSE;
	/* the certificates of attempts interrupted before v5 are flagged now */
	rc = sqlite3_prepare_v2(
	    self->db, "SELECT id FROM devices WHERE state = 'rework' ORDER BY id", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return _fst_db_set_error(self, error, rc, "trying to find the devices in rework");
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		gint64 id = sqlite3_column_int64(stmt, 0);
		g_array_append_val(devices, id);
	}
	if (rc != SQLITE_DONE)
		return _fst_db_set_error(self, error, rc, "trying to find the devices in rework");
	for (guint i = 0; i < devices->len; i++) {
		if (!_fst_db_interrupt_certificates_locked(
		        self, g_array_index(devices, gint64, i), error))
			return FALSE;
	}
	return fst_db_bind_all_rows(self, error);
}

/*
 * The step to version 6 (db/schema.md, "Changes in v6"): a device log commit
 * records its steps in one event (step `device-log`, the steps in its
 * detail); the view `event_steps` lists every step, of those events and of
 * the older ones, for the sqlite3 tool. Nothing written before changes: old
 * events keep their form and the chain goes on from them. The registration
 * queue takes `revoke` rows: a revoked certificate is revoked where it is
 * registered (UpdateCertificate REVOKED).
 */
static const gchar fst_db_schema_v6[] =
    "CREATE VIEW event_steps AS"
    "  SELECT e.id AS event_id, 0 AS step_index, e.device_id, e.station_id, e.operator_id,"
    "  e.lot_id, e.step, e.started_at, e.ended_at, e.outcome, e.detail"
    "  FROM events e WHERE e.step <> 'device-log'"
    "  UNION ALL"
    "  SELECT e.id, j.key, e.device_id, e.station_id, e.operator_id, e.lot_id,"
    "  json_extract(j.value, '$[0]'), e.started_at + json_extract(j.value, '$[1]'),"
    "  e.started_at + json_extract(j.value, '$[1]') + json_extract(j.value, '$[2]'),"
    "  json_extract(j.value, '$[3]'), json_extract(j.value, '$[4]')"
    "  FROM events e, json_each(e.detail) j WHERE e.step = 'device-log';";

/* `registrations` rebuilt (same columns and ids) for the action `revoke`:
 * SQLite changes a CHECK constraint only by a rebuild; the table is not
 * bound to the audit chain, so no row is bound again */
static const gchar fst_db_schema_registrations_revoke[] =
    "CREATE TABLE registrations_new ("
    "  id INTEGER PRIMARY KEY,"
    "  certificate_id INTEGER NOT NULL REFERENCES certificates(id),"
    "  target TEXT NOT NULL,"
    "  action TEXT NOT NULL DEFAULT 'register'"
    "    CHECK (action IN ('register', 'deactivate', 'revoke')),"
    "  state TEXT NOT NULL DEFAULT 'pending'"
    "    CHECK (state IN ('pending', 'in-progress', 'done', 'failed')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER,"
    "  remote_id TEXT,"
    "  last_error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (certificate_id, target, action));"
    "INSERT INTO registrations_new SELECT id, certificate_id, target, action, state, attempts,"
    "  next_attempt_at, remote_id, last_error, created_at, updated_at FROM registrations"
    "  ORDER BY id;"
    "DROP TABLE registrations;"
    "ALTER TABLE registrations_new RENAME TO registrations;"
    "CREATE INDEX registrations_state ON registrations(state, next_attempt_at);";

static gboolean
fst_db_migrate_v6(FstDb *self, GError **error)
{
	return _fst_db_exec(self, fst_db_schema_v6, "create the schema v6 view", error) &&
	       _fst_db_exec(self,
	                    fst_db_schema_registrations_revoke,
	                    "rebuild the registration queue for revoke rows",
	                    error);
}

/*
 * The step to version 7 (db/schema.md, "Changes in v7"): the CHECK
 * constraints of the tables a device writes test their value with OR
 * instead of an IN list, which SQLite evaluates by building a temporary
 * table for every row it checks (a fifth of the instructions of a device log
 * commit). The accepted values are the same. SQLite changes a CHECK only
 * by a rebuild: the same columns, rows and ids, so every row keeps its
 * binding in the audit chain; the indexes and the view that reads the
 * tables are made again as they were.
 */
static const gchar fst_db_schema_v7[] =
    "DROP VIEW certificate_details;"
    "CREATE TABLE devices_v7 ("
    "  id INTEGER PRIMARY KEY,"
    "  uid TEXT NOT NULL UNIQUE,"
    "  model TEXT,"
    "  firmware TEXT,"
    "  protocol_version INTEGER NOT NULL DEFAULT 0,"
    "  key_types TEXT,"
    "  validation TEXT,"
    "  port TEXT,"
    "  state TEXT NOT NULL DEFAULT 'new'"
    "    CHECK (state = 'new' OR state = 'in-progress' OR state = 'provisioned'"
    "    OR state = 'failed' OR state = 'rework'),"
    "  last_error TEXT,"
    "  station_id INTEGER REFERENCES stations(id),"
    "  operator_id INTEGER REFERENCES operators(id),"
    "  lot_id INTEGER REFERENCES lots(id),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "INSERT INTO devices_v7 SELECT id, uid, model, firmware, protocol_version, key_types,"
    "  validation, port, state, last_error, station_id, operator_id, lot_id, created_at,"
    "  updated_at FROM devices ORDER BY id;"
    "DROP TABLE devices;"
    "ALTER TABLE devices_v7 RENAME TO devices;"
    "CREATE INDEX devices_in_progress ON devices(station_id) WHERE state = 'in-progress';"
    "CREATE TABLE certificates_v7 ("
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
    "    CHECK (state = 'issued' OR state = 'burned' OR state = 'verified'"
    "    OR state = 'registered' OR state = 'superseded' OR state = 'revoked'"
    "    OR state = 'interrupted'),"
    "  slot INTEGER NOT NULL DEFAULT 0 CHECK (slot = 0 OR slot = 1),"
    "  station_id INTEGER REFERENCES stations(id),"
    "  profile_id INTEGER REFERENCES profiles(id),"
    "  operator_id INTEGER REFERENCES operators(id),"
    "  lot_id INTEGER REFERENCES lots(id),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  revoked_at INTEGER,"
    "  revocation_reason TEXT);"
    "INSERT INTO certificates_v7 SELECT id, device_id, serial_hex, aws_cert_id, der, subject,"
    "  key_type, not_before, not_after, ca_id, state, slot, station_id, profile_id,"
    "  operator_id, lot_id, created_at, updated_at, revoked_at, revocation_reason"
    "  FROM certificates ORDER BY id;"
    "DROP TABLE certificates;"
    "ALTER TABLE certificates_v7 RENAME TO certificates;"
    "CREATE INDEX certificates_device ON certificates(device_id, id);"
    "CREATE INDEX certificates_ca ON certificates(ca_id);"
    "CREATE TABLE device_objects_v7 ("
    "  id INTEGER PRIMARY KEY,"
    "  device_id INTEGER NOT NULL REFERENCES devices(id),"
    "  certificate_id INTEGER REFERENCES certificates(id),"
    "  kind TEXT NOT NULL"
    "    CHECK (kind = 'device-cert' OR kind = 'ca-chain' OR kind = 'trust-roots'),"
    "  sha256 TEXT NOT NULL,"
    "  length INTEGER NOT NULL,"
    "  contents TEXT,"
    "  station_id INTEGER REFERENCES stations(id),"
    "  written_at INTEGER NOT NULL);"
    "INSERT INTO device_objects_v7 SELECT id, device_id, certificate_id, kind, sha256, length,"
    "  contents, station_id, written_at FROM device_objects ORDER BY id;"
    "DROP TABLE device_objects;"
    "ALTER TABLE device_objects_v7 RENAME TO device_objects;"
    "CREATE TABLE registrations_v7 ("
    "  id INTEGER PRIMARY KEY,"
    "  certificate_id INTEGER NOT NULL REFERENCES certificates(id),"
    "  target TEXT NOT NULL,"
    "  action TEXT NOT NULL DEFAULT 'register'"
    "    CHECK (action = 'register' OR action = 'deactivate' OR action = 'revoke'),"
    "  state TEXT NOT NULL DEFAULT 'pending'"
    "    CHECK (state = 'pending' OR state = 'in-progress' OR state = 'done'"
    "    OR state = 'failed'),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER,"
    "  remote_id TEXT,"
    "  last_error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  UNIQUE (certificate_id, target, action));"
    "INSERT INTO registrations_v7 SELECT id, certificate_id, target, action, state, attempts,"
    "  next_attempt_at, remote_id, last_error, created_at, updated_at FROM registrations"
    "  ORDER BY id;"
    "DROP TABLE registrations;"
    "ALTER TABLE registrations_v7 RENAME TO registrations;"
    "CREATE INDEX registrations_state ON registrations(state, next_attempt_at);"
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
fst_db_migrate_v7(FstDb *self, GError **error)
{
	return _fst_db_exec(self,
	                    fst_db_schema_v7,
	                    "rebuild the device tables with CHECK constraints SQLite evaluates "
	                    "without a temporary table",
	                    error);
}

/*
 * The step to version 8 (db/schema.md, "Changes in v8"): `device_keys`
 * files every certificate's public key under its SHA-256 with the one
 * device it belongs to, so that a second device with the same key is
 * refused (fst_db_add_certificate()). The certificates recorded before are
 * filed in their order; a key two devices already share stays with the
 * first, and one warning counts the certificates of the others, since the
 * records hold them and nothing can be refused after the fact.
 */
static const gchar fst_db_schema_v8[] = "CREATE TABLE device_keys ("
                                        "  key_sha256 BLOB PRIMARY KEY,"
                                        "  device_id INTEGER NOT NULL REFERENCES devices(id)"
                                        ") WITHOUT ROWID;";

/* the keys a migration files, and those another device holds already */
typedef struct {
	guint shared;        /* certificates whose key another device holds */
	gchar *first_serial; /* (owned) (nullable): the first of them */
	gchar *first_uid;    /* (owned) (nullable): its device */
} FstDbKeyFiling;

static void
fst_db_key_filing_clear(FstDbKeyFiling *filing)
{
	g_clear_pointer(&filing->first_serial, g_free);
	g_clear_pointer(&filing->first_uid, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FstDbKeyFiling, fst_db_key_filing_clear)

/* files @key_sha256 for @device_id as a new certificate would; a key
 * another device holds is counted, not refused: the records hold it */
static gboolean
fst_db_key_filing_add(FstDb *self,
                      FstDbKeyFiling *filing,
                      gint64 device_id,
                      const guint8 key_sha256[32],
                      const gchar *serial,
                      const gchar *uid,
                      GError **error)
{
	g_autoptr(GError) refused = NULL;

	if (_fst_db_record_key_locked(self, device_id, key_sha256, serial, &refused))
		return TRUE;
	if (!g_error_matches(refused, FST_ERROR, FST_ERROR_KEY_REUSED)) {
		g_propagate_error(error, g_steal_pointer(&refused));
		return FALSE;
	}
	if (filing->shared++ == 0) {
		filing->first_serial = g_strdup(serial);
		filing->first_uid = g_strdup(uid);
	}
	return TRUE;
}

/* what a migration does with the public key of one recorded certificate:
 * @spki, in its DER */
typedef gboolean (*FstDbKeyFunc)(FstDb *self,
                                 FstDbKeyFiling *filing,
                                 gint64 device_id,
                                 const gchar *serial,
                                 const gchar *uid,
                                 const guchar *spki,
                                 gsize spki_len,
                                 GError **error);

/* calls @func for the key of every recorded certificate, in id order;
 * *@unreadable counts the certificates whose DER cannot be walked to it */
static gboolean
fst_db_migrate_foreach_key(FstDb *self,
                           const gchar *what,
                           FstDbKeyFunc func,
                           FstDbKeyFiling *filing,
                           guint *unreadable,
                           GError **error)
{
	g_autoptr(FstDbStmt) certs = NULL;
	gint rc;

	certs =
	    _fst_db_prepare(self,
	                    "SELECT c.serial_hex, c.device_id, c.der, d.uid FROM certificates c "
	                    "JOIN devices d ON d.id = c.device_id ORDER BY c.id",
	                    what,
	                    error);
	if (certs == NULL)
		return FALSE;
	while ((rc = sqlite3_step(certs)) == SQLITE_ROW) {
		gconstpointer der = sqlite3_column_blob(certs, 2);
		gsize der_len = (gsize)sqlite3_column_bytes(certs, 2);
		const guchar *serial_p = NULL;
		const guchar *spki = NULL;
		gsize serial_len = 0;
		gsize spki_len = 0;

		if (der == NULL ||
		    !_fst_db_der_fields(der, der_len, &serial_p, &serial_len, &spki, &spki_len)) {
			(*unreadable)++;
			continue;
		}
		if (!func(self,
		          filing,
		          sqlite3_column_int64(certs, 1),
		          (const gchar *)sqlite3_column_text(certs, 0),
		          (const gchar *)sqlite3_column_text(certs, 3),
		          spki,
		          spki_len,
		          error))
			return FALSE;
	}
	if (rc != SQLITE_DONE)
		return _fst_db_set_error(self, error, rc, "trying to %s", what);
	return TRUE;
}

static gboolean
fst_db_migrate_v8_key(FstDb *self,
                      FstDbKeyFiling *filing,
                      gint64 device_id,
                      const gchar *serial,
                      const gchar *uid,
                      const guchar *spki,
                      gsize spki_len,
                      GError **error)
{
	guint8 key_sha256[32];

	fst_crypto_sha256(spki, spki_len, key_sha256);
	return fst_db_key_filing_add(self, filing, device_id, key_sha256, serial, uid, error);
}

static gboolean
fst_db_migrate_v8(FstDb *self, GError **error)
{
	g_auto(FstDbKeyFiling) filing = {0};
	guint unreadable = 0;

	if (!_fst_db_exec(self, fst_db_schema_v8, "create the schema v8 tables", error) ||
	    !fst_db_migrate_foreach_key(self,
	                                "file the public keys of the certificates recorded",
	                                fst_db_migrate_v8_key,
	                                &filing,
	                                &unreadable,
	                                error))
		return FALSE;
	if (filing.shared > 0)
		g_warning("%s: %u recorded certificates have a public key already certified for "
		          "another device (the first: certificate %s of device %s): boards that "
		          "share a key; the keys stay filed under the first device",
		          self->path,
		          filing.shared,
		          filing.first_serial,
		          filing.first_uid);
	if (unreadable > 0)
		g_warning(
		    "%s: %u recorded certificates are not DER X.509: their keys are not filed",
		    self->path,
		    unreadable);
	return TRUE;
}

/*
 * The step to version 9 (db/schema.md, "Changes in v9"): a key is filed
 * under fst_crypto_public_key_sha256(), which hashes an EC point sent
 * compressed (or hybrid) in its uncompressed form, so that one key has one
 * hash whatever form a device sends it in. The keys v8 filed under the hash
 * of a packed point are filed again under that one; a key that another
 * device holds in the other form stays with that device, and one warning
 * counts such certificates, as the step to v8 does. Other keys keep their
 * entry: the hash of an uncompressed point, an RSA key or any other SPKI is
 * unchanged.
 */
static gboolean
fst_db_migrate_v9_key(FstDb *self,
                      FstDbKeyFiling *filing,
                      gint64 device_id,
                      const gchar *serial,
                      const gchar *uid,
                      const guchar *spki,
                      gsize spki_len,
                      GError **error)
{
	g_autoptr(FstDbStmt) drop = NULL;
	const gchar *what = "drop the entry of a compressed key";
	guint8 filed[32];
	guint8 key_sha256[32];
	gint rc;

	fst_crypto_public_key_sha256(spki, spki_len, key_sha256);
	fst_crypto_sha256(spki, spki_len, filed);
	if (memcmp(filed, key_sha256, sizeof(filed)) == 0)
		return TRUE;
	drop = _fst_db_prepare(
	    self, "DELETE FROM device_keys WHERE key_sha256 = ?1 AND device_id = ?2", what, error);
	if (drop == NULL)
		return FALSE;
	rc = sqlite3_bind_blob(drop, 1, filed, sizeof(filed), SQLITE_STATIC);
	rc |= sqlite3_bind_int64(drop, 2, device_id);
	if (!_fst_db_check_bind(self, rc, what, error) ||
	    !_fst_db_step_done(self, drop, what, error))
		return FALSE;
	return fst_db_key_filing_add(self, filing, device_id, key_sha256, serial, uid, error);
}

static gboolean
fst_db_migrate_v9(FstDb *self, GError **error)
{
	g_auto(FstDbKeyFiling) filing = {0};
	guint unreadable = 0;

	if (!fst_db_migrate_foreach_key(self,
	                                "file again the keys of certificates whose EC point is "
	                                "compressed",
	                                fst_db_migrate_v9_key,
	                                &filing,
	                                &unreadable,
	                                error))
		return FALSE;
	if (filing.shared > 0)
		g_warning(
		    "%s: %u recorded certificates with a compressed EC point have a public "
		    "key already certified for another device (the first: certificate %s of "
		    "device %s): boards that share a key; the keys stay filed under the other "
		    "device",
		    self->path,
		    filing.shared,
		    filing.first_serial,
		    filing.first_uid);
	return TRUE;
}

typedef gboolean (*FstDbMigrateFunc)(FstDb *self, GError **error);

/* index N migrates from version N-1 to N; append only */
static const FstDbMigrateFunc fst_db_migrations[] = {
    NULL, /* version 0: an empty file */
    fst_db_migrate_v1,
    fst_db_migrate_v2,
    fst_db_migrate_v3,
    fst_db_migrate_v4,
    fst_db_migrate_v5,
    fst_db_migrate_v6,
    fst_db_migrate_v7,
    fst_db_migrate_v8,
    fst_db_migrate_v9,
};
G_STATIC_ASSERT(G_N_ELEMENTS(fst_db_migrations) == FST_DB_SCHEMA_VERSION + 1);

gboolean
_fst_db_read_user_version(FstDb *self, guint *version, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	gboolean found = FALSE;
	gint64 value;

	stmt = _fst_db_prepare(self, "PRAGMA user_version", "read the schema version", error);
	if (stmt == NULL)
		return FALSE;
	if (!_fst_db_step_row(self, stmt, &found, "read the schema version", error))
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
	if (!_fst_db_read_user_version(self, &current, error))
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
	check = _fst_db_prepare(self, "PRAGMA foreign_key_check", what, error);
	if (check == NULL)
		return FALSE;
	if (!_fst_db_step_row(self, check, &violation, what, error))
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
	    _fst_db_prepare(self,
	                    "INSERT INTO schema_migrations (version, applied_at, software_version) "
	                    "VALUES (?1, ?2, ?3)",
	                    what,
	                    error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, version);
	rc |= sqlite3_bind_int64(stmt, 2, g_get_real_time());
	rc |= sqlite3_bind_text(stmt, 3, FST_VERSION, -1, SQLITE_STATIC);
	if (!_fst_db_check_bind(self, rc, what, error))
		return FALSE;
	if (!_fst_db_step_done(self, stmt, what, error))
		return FALSE;
	if (!_fst_db_exec(self, pragma, what, error))
		return FALSE;
	*applied = TRUE;
	return TRUE;
}

/* brings the file to FST_DB_SCHEMA_VERSION, one transaction per step */
gboolean
_fst_db_migrate(FstDb *self, GError **error)
{
	for (guint version = self->schema_version + 1; version <= FST_DB_SCHEMA_VERSION;
	     version++) {
		g_autofree gchar *what = g_strdup_printf("schema migration v%u", version);
		g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
		gboolean applied = FALSE;
		gboolean ok;
		if (!_fst_db_transaction_begin(&tx, self, what, error))
			return FALSE;
		/* a step rewrites whole tables: the last one binds every row */
		self->binding_off = TRUE;
		ok = fst_db_migrate_step(self, version, &applied, error);
		self->binding_off = FALSE;
		if (!ok)
			return FALSE;
		if (!_fst_db_transaction_commit(&tx, what, error))
			return FALSE;
		/* not applied: another process got there first, which is fine */
		if (applied)
			g_info("database %s migrated to schema version %u", self->path, version);
		self->schema_version = version;
	}
	return TRUE;
}
