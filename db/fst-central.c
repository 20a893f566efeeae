/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The central registry (db/central.md): the libpq connection, the versioned
 * central schema and its migrations, reservations of device ids, and the
 * queries `central status` and the returning-device check use.
 *
 * Every value goes to the server as a parameter of PQexecParams(), never
 * inside the SQL text. The password is never part of the configuration:
 * libpq reads it from ~/.pgpass or $PGPASSFILE (or a certificate does the
 * job), and a conninfo that carries one is refused.
 */

#define G_LOG_DOMAIN "FstCentral"

#include "fst-config.h"

#include <string.h>

#include "fst-central-private.h"
#include "fst-error.h"

/* the statements of each schema version, applied in one transaction under an
 * advisory lock, so that two stations running `central init` at once apply
 * each migration once */
static const gchar *fst_central_schema_v1 =
    "CREATE TABLE fst_central_migrations ("
    "  version integer PRIMARY KEY,"
    "  applied_at timestamptz NOT NULL DEFAULT now(),"
    "  software_version text NOT NULL);"
    "CREATE TABLE stations ("
    "  id bigserial PRIMARY KEY,"
    "  name text NOT NULL UNIQUE,"
    "  database_id text,"
    "  host text,"
    "  head_id bigint NOT NULL DEFAULT 0,"
    "  head_hash text,"
    "  last_sync_at timestamptz,"
    "  created_at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE devices ("
    "  station_id bigint NOT NULL REFERENCES stations(id),"
    "  local_id bigint NOT NULL,"
    "  uid text NOT NULL,"
    "  model text, firmware text, protocol_version integer, key_types text,"
    "  validation text, port text,"
    "  state text NOT NULL,"
    "  last_error text,"
    "  operator text, lot text,"
    "  created_at bigint NOT NULL, updated_at bigint NOT NULL,"
    "  PRIMARY KEY (station_id, local_id));"
    "CREATE INDEX devices_uid ON devices(uid);"
    "CREATE TABLE certificates ("
    "  station_id bigint NOT NULL REFERENCES stations(id),"
    "  local_id bigint NOT NULL,"
    "  device_local_id bigint NOT NULL,"
    "  device_uid text NOT NULL,"
    "  serial_hex text NOT NULL,"
    "  issuer_sha256 text NOT NULL,"
    "  aws_cert_id text NOT NULL,"
    "  der bytea NOT NULL,"
    "  subject text, key_type text, not_before bigint, not_after bigint,"
    "  state text NOT NULL,"
    "  slot integer NOT NULL,"
    "  profile text, profile_sha256 text, operator text, lot text,"
    "  created_at bigint NOT NULL, updated_at bigint NOT NULL,"
    "  revoked_at bigint, revocation_reason text,"
    "  conflict text,"
    "  superseded_by text,"
    "  PRIMARY KEY (station_id, local_id));"
    /* the uniqueness across stations: a serial once per issuing CA, one
     * certificate in service per device id; a flagged conflict is kept as
     * the station sent it but stands outside both */
    "CREATE UNIQUE INDEX certificates_serial ON certificates(issuer_sha256, serial_hex)"
    "  WHERE conflict IS NULL;"
    "CREATE UNIQUE INDEX certificates_in_service ON certificates(device_uid)"
    "  WHERE state IN ('verified', 'registered') AND conflict IS NULL"
    "  AND superseded_by IS NULL;"
    "CREATE INDEX certificates_device ON certificates(device_uid);"
    "CREATE TABLE device_objects ("
    "  station_id bigint NOT NULL REFERENCES stations(id),"
    "  local_id bigint NOT NULL,"
    "  device_local_id bigint NOT NULL,"
    "  certificate_local_id bigint,"
    "  kind text NOT NULL, sha256 text NOT NULL, length bigint NOT NULL, contents text,"
    "  written_at bigint NOT NULL,"
    "  PRIMARY KEY (station_id, local_id));"
    "CREATE TABLE events ("
    "  station_id bigint NOT NULL REFERENCES stations(id),"
    "  local_id bigint NOT NULL,"
    "  device_local_id bigint, station_local_id bigint,"
    "  operator_local_id bigint, lot_local_id bigint,"
    "  step text NOT NULL, started_at bigint NOT NULL, ended_at bigint NOT NULL,"
    "  outcome text NOT NULL, detail text,"
    "  hash bytea NOT NULL, rows bytea,"
    "  PRIMARY KEY (station_id, local_id));"
    "CREATE TABLE registrations ("
    "  id bigserial PRIMARY KEY,"
    "  station_id bigint NOT NULL REFERENCES stations(id),"
    "  local_id bigint NOT NULL,"
    "  certificate_local_id bigint NOT NULL,"
    "  target text NOT NULL,"
    "  action text NOT NULL,"
    "  state text NOT NULL DEFAULT 'pending'"
    "    CHECK (state IN ('pending', 'in-progress', 'done', 'failed')),"
    "  attempts integer NOT NULL DEFAULT 0,"
    "  claimed_by text, claimed_at timestamptz,"
    "  remote_id text, last_error text,"
    "  created_at bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),"
    "  UNIQUE (station_id, local_id));"
    "CREATE INDEX registrations_pending ON registrations(id) WHERE state = 'pending';"
    "CREATE TABLE reservations ("
    "  device_uid text PRIMARY KEY,"
    "  station text NOT NULL,"
    "  reserved_at timestamptz NOT NULL DEFAULT now(),"
    "  released_at timestamptz);"
    "CREATE TABLE conflicts ("
    "  id bigserial PRIMARY KEY,"
    "  kind text NOT NULL CHECK (kind IN ('serial', 'in-service')),"
    "  device_uid text NOT NULL, serial_hex text NOT NULL,"
    "  station text NOT NULL, other_station text,"
    "  detail text NOT NULL,"
    "  found_at timestamptz NOT NULL DEFAULT now(),"
    "  UNIQUE (station, serial_hex, kind));"
    /* a device re-provisioned at another station: the station that took it
     * over records a handover when it decides to (on-return=reprovision);
     * when its new certificate reaches the registry in service, the old one
     * is marked superseded_by (its own station's copy keeps its state) */
    "CREATE TABLE handovers ("
    "  device_uid text NOT NULL,"
    "  old_station text NOT NULL, old_serial text NOT NULL,"
    "  new_station text NOT NULL,"
    "  created_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY (device_uid, old_station, old_serial, new_station));"
    /* what a certificate a station ships conflicts with, or NULL: computed in
     * the statement that writes it, so that a sync never fails on a
     * conflict it can see (the unique indexes still stop two syncs racing:
     * the loser's batch is rolled back and flagged when it is retried) */
    "CREATE FUNCTION fst_certificate_conflict(p_station bigint, p_local bigint,"
    "  p_issuer text, p_serial text, p_uid text, p_state text) RETURNS text"
    "  LANGUAGE sql STABLE AS $$"
    "  SELECT coalesce("
    "    (SELECT 'serial: serial ' || p_serial || ' of CA ' || left(p_issuer, 16) ||"
    "       ' was issued before by station ' || s.name || ' to device ' || o.device_uid"
    "     FROM certificates o JOIN stations s ON s.id = o.station_id"
    "     WHERE o.issuer_sha256 = p_issuer AND o.serial_hex = p_serial AND o.conflict IS NULL"
    "       AND NOT (o.station_id = p_station AND o.local_id = p_local) LIMIT 1),"
    "    (SELECT 'in-service: device ' || p_uid || ' has certificate ' || o.serial_hex ||"
    "       ' in service from station ' || s.name"
    "     FROM certificates o JOIN stations s ON s.id = o.station_id"
    "     WHERE p_state IN ('verified', 'registered') AND o.device_uid = p_uid"
    "       AND o.state IN ('verified', 'registered') AND o.conflict IS NULL"
    "       AND o.superseded_by IS NULL"
    "       AND NOT (o.station_id = p_station AND o.local_id = p_local)"
    "       AND NOT EXISTS (SELECT 1 FROM handovers h JOIN stations n ON n.name = h.new_station"
    "         WHERE h.device_uid = p_uid AND h.old_station = s.name"
    "           AND h.old_serial = o.serial_hex AND n.id = p_station) LIMIT 1))"
    "  $$;"
    /* every flagged certificate is listed once in conflicts */
    "CREATE FUNCTION fst_certificate_flag() RETURNS trigger LANGUAGE plpgsql AS $$"
    "  BEGIN"
    "    INSERT INTO conflicts (kind, device_uid, serial_hex, station, other_station, detail)"
    "    SELECT split_part(NEW.conflict, ':', 1), NEW.device_uid, NEW.serial_hex, s.name,"
    "      substring(NEW.conflict FROM 'station ([^ ]+)'), NEW.conflict"
    "    FROM stations s WHERE s.id = NEW.station_id"
    "    ON CONFLICT DO NOTHING;"
    "    RETURN NEW;"
    "  END $$;"
    "CREATE TRIGGER certificates_flag AFTER INSERT OR UPDATE OF conflict ON certificates"
    "  FOR EACH ROW WHEN (NEW.conflict IS NOT NULL) EXECUTE FUNCTION fst_certificate_flag();"
    "CREATE FUNCTION fst_certificate_handover() RETURNS trigger LANGUAGE plpgsql AS $$"
    "  BEGIN"
    "    IF NOT EXISTS (SELECT 1 FROM handovers WHERE device_uid = NEW.device_uid) THEN"
    "      RETURN NEW;"
    "    END IF;"
    "    UPDATE certificates o SET superseded_by = n.name || ' ' || NEW.serial_hex"
    "    FROM handovers h, stations n, stations s"
    "    WHERE n.id = NEW.station_id AND h.new_station = n.name"
    "      AND h.device_uid = NEW.device_uid AND s.name = h.old_station"
    "      AND o.station_id = s.id AND o.serial_hex = h.old_serial"
    "      AND o.superseded_by IS NULL;"
    "    RETURN NEW;"
    "  END $$;"
    "CREATE TRIGGER certificates_handover BEFORE INSERT OR UPDATE OF state ON certificates"
    "  FOR EACH ROW WHEN (NEW.state IN ('verified', 'registered') AND NEW.conflict IS NULL)"
    "  EXECUTE FUNCTION fst_certificate_handover();";

/* the registration queue worked by registrars (db/central.md, "Registration
 * queue"): next_attempt_at is when a row is next due, the next try of a row
 * put back after a failure or the end of the claim of a row in progress; a
 * row the registry queues itself (the deactivation of a certificate taken
 * over by another station) has no local_id. The take-over trigger queues
 * that deactivation, for each target the old certificate was queued for
 * (`*` if none), as a station does for a take-over of its own. */
static const gchar *fst_central_schema_v2 =
    "ALTER TABLE registrations ADD COLUMN next_attempt_at timestamptz;"
    "ALTER TABLE registrations ALTER COLUMN local_id DROP NOT NULL;"
    "UPDATE registrations SET next_attempt_at = claimed_at + interval '10 minutes'"
    "  WHERE state = 'in-progress';"
    "CREATE INDEX registrations_certificate ON registrations(station_id, certificate_local_id);"
    "CREATE OR REPLACE FUNCTION fst_certificate_handover() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$"
    "  BEGIN"
    "    IF NOT EXISTS (SELECT 1 FROM handovers WHERE device_uid = NEW.device_uid) THEN"
    "      RETURN NEW;"
    "    END IF;"
    "    WITH superseded AS ("
    "      UPDATE certificates o SET superseded_by = n.name || ' ' || NEW.serial_hex"
    "      FROM handovers h, stations n, stations s"
    "      WHERE n.id = NEW.station_id AND h.new_station = n.name"
    "        AND h.device_uid = NEW.device_uid AND s.name = h.old_station"
    "        AND o.station_id = s.id AND o.serial_hex = h.old_serial"
    "        AND o.superseded_by IS NULL"
    "      RETURNING o.station_id, o.local_id)"
    "    INSERT INTO registrations (station_id, local_id, certificate_local_id, target,"
    "      action, created_at)"
    "    SELECT x.station_id, NULL, x.local_id, t.target, 'deactivate',"
    "      (extract(epoch FROM now()) * 1000000)::bigint"
    "    FROM superseded x CROSS JOIN LATERAL ("
    "      SELECT DISTINCT r.target FROM registrations r WHERE r.station_id = x.station_id"
    "        AND r.certificate_local_id = x.local_id AND r.action = 'register'"
    "      UNION SELECT '*' WHERE NOT EXISTS (SELECT 1 FROM registrations r"
    "        WHERE r.station_id = x.station_id AND r.certificate_local_id = x.local_id"
    "        AND r.action = 'register')) t;"
    "    RETURN NEW;"
    "  END $$;";

/* one key, one device across the stations: each certificate carries the
 * SHA-256 its public key is filed under at its station
 * (fst_crypto_public_key_sha256(), sent by the sync; rows shipped before
 * get it from fst_central_fill_keys()), and a certificate for a key another
 * device's certificate holds is flagged `key`. A device's own certificates
 * share its key (a renewal, a re-provisioning at another station). No
 * index can hold this one (a key has many certificates of one device): the
 * sync locks each key its batch ships (fst_central_sync()), so that of two
 * stations shipping one key at the same moment the second sees the first */
static const gchar *fst_central_schema_v3 =
    "ALTER TABLE certificates ADD COLUMN key_sha256 text;"
    "CREATE INDEX certificates_key ON certificates(key_sha256)"
    "  WHERE key_sha256 IS NOT NULL AND conflict IS NULL;"
    "ALTER TABLE conflicts DROP CONSTRAINT conflicts_kind_check;"
    "ALTER TABLE conflicts ADD CONSTRAINT conflicts_kind_check"
    "  CHECK (kind IN ('serial', 'in-service', 'key'));"
    "DROP FUNCTION fst_certificate_conflict(bigint, bigint, text, text, text, text);"
    "CREATE FUNCTION fst_certificate_conflict(p_station bigint, p_local bigint,"
    "  p_issuer text, p_serial text, p_uid text, p_state text, p_key text) RETURNS text"
    "  LANGUAGE sql STABLE AS $$"
    "  SELECT coalesce("
    "    (SELECT 'serial: serial ' || p_serial || ' of CA ' || left(p_issuer, 16) ||"
    "       ' was issued before by station ' || s.name || ' to device ' || o.device_uid"
    "     FROM certificates o JOIN stations s ON s.id = o.station_id"
    "     WHERE o.issuer_sha256 = p_issuer AND o.serial_hex = p_serial AND o.conflict IS NULL"
    "       AND NOT (o.station_id = p_station AND o.local_id = p_local) LIMIT 1),"
    "    (SELECT 'in-service: device ' || p_uid || ' has certificate ' || o.serial_hex ||"
    "       ' in service from station ' || s.name"
    "     FROM certificates o JOIN stations s ON s.id = o.station_id"
    "     WHERE p_state IN ('verified', 'registered') AND o.device_uid = p_uid"
    "       AND o.state IN ('verified', 'registered') AND o.conflict IS NULL"
    "       AND o.superseded_by IS NULL"
    "       AND NOT (o.station_id = p_station AND o.local_id = p_local)"
    "       AND NOT EXISTS (SELECT 1 FROM handovers h JOIN stations n ON n.name = h.new_station"
    "         WHERE h.device_uid = p_uid AND h.old_station = s.name"
    "           AND h.old_serial = o.serial_hex AND n.id = p_station) LIMIT 1),"
    "    (SELECT 'key: the key of certificate ' || p_serial || ' of device ' || p_uid ||"
    "       ' is certified for device ' || o.device_uid || ' by station ' || s.name ||"
    "       ' (certificate ' || o.serial_hex || ')'"
    "     FROM certificates o JOIN stations s ON s.id = o.station_id"
    "     WHERE p_key IS NOT NULL AND o.key_sha256 = p_key AND o.device_uid <> p_uid"
    "       AND o.conflict IS NULL"
    "       AND NOT (o.station_id = p_station AND o.local_id = p_local) LIMIT 1))"
    "  $$;";

/* the advisory lock key of the migrations: "fstcentr" */
#define FST_CENTRAL_MIGRATION_LOCK "7310309447183136114"

static const gchar *
fst_central_schema_sql(guint version)
{
	switch (version) {
	case 1:
		return fst_central_schema_v1;
	case 2:
		return fst_central_schema_v2;
	case 3:
		return fst_central_schema_v3;
	default:
		return NULL;
	}
}

/**
 * fst_central_normalize_conninfo:
 * @conninfo: a libpq connection string (`host=... dbname=...`), a
 *   `postgresql://` URI, or a bare service name (a section of
 *   pg_service.conf)
 * @error: return location for a #GError
 *
 * Checks a central connection setting: it must parse, and it must carry no
 * password (libpq reads it from ~/.pgpass or $PGPASSFILE). A bare word is a
 * service name. TLS options (`sslmode=verify-full`, `sslrootcert=...`) pass
 * through unchanged.
 *
 * Returns: (transfer full): the connection string to give libpq, or %NULL
 *   with %FST_ERROR_CONFIG
 */
gchar *
fst_central_normalize_conninfo(const gchar *conninfo, GError **error)
{
	g_autofree gchar *str = NULL;
	gchar *errmsg = NULL;
	PQconninfoOption *opts;
	gboolean has_password = FALSE;

	if (conninfo == NULL || conninfo[0] == '\0') {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_CONFIG,
		                    "no central registry configured: set conninfo in the [central] "
		                    "group of station.conf (fleetstation init --central CONNINFO)");
		return NULL;
	}
	if (strchr(conninfo, '=') == NULL && strstr(conninfo, "://") == NULL) {
		if (!g_regex_match_simple("^[A-Za-z0-9_.-]+$", conninfo, 0, 0)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "central conninfo '%s' is neither a connection string nor a "
			            "service name",
			            conninfo);
			return NULL;
		}
		str = g_strdup_printf("service=%s", conninfo);
	} else {
		str = g_strdup(conninfo);
	}
	opts = PQconninfoParse(str, &errmsg);
	if (opts == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "central conninfo does not parse: %s",
		            errmsg != NULL ? g_strchomp(errmsg) : "out of memory");
		PQfreemem(errmsg);
		return NULL;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (g_strcmp0(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
			has_password = TRUE;
	}
	PQconninfoFree(opts);
	if (has_password) {
		g_set_error_literal(
		    error,
		    FST_ERROR,
		    FST_ERROR_CONFIG,
		    "the central conninfo holds a password: remove it, and put it in "
		    "~/.pgpass (mode 0600) or the file $PGPASSFILE names");
		return NULL;
	}
	return g_steal_pointer(&str);
}

/**
 * fst_central_connect:
 * @conninfo: see fst_central_normalize_conninfo()
 * @error: return location for a #GError
 *
 * Connects to the central registry, as fst_central_connect_full() does
 * without a way to ask for a password.
 *
 * Returns: (transfer full): a connection for one thread at a time, or %NULL
 */
FstCentral *
fst_central_connect(const gchar *conninfo, GError **error)
{
	return fst_central_connect_full(conninfo, NULL, NULL, error);
}

/* a connection attempt; @password (nullable) after the connection string */
static PGconn *
fst_central_connect_once(const gchar *conninfo, const FstSecret *password)
{
	/* expand_dbname: the connection string expands where dbname stands,
	 * overriding the keys before it and overridden by those after it */
	const gchar *keys[] = {"application_name", "connect_timeout", "dbname", "password", NULL};
	const gchar *values[] = {"fleetstation", "5", conninfo, NULL, NULL};

	if (password != NULL)
		values[3] = fst_secret_get_str(password);
	return PQconnectdbParams(keys, values, 1);
}

/**
 * fst_central_connect_full:
 * @conninfo: see fst_central_normalize_conninfo()
 * @ask: (nullable) (scope call): asks for the password when the server wants
 *   one and libpq found none (~/.pgpass, $PGPASSFILE), or the one it found
 *   was refused
 * @user_data: for @ask
 * @error: return location for a #GError
 *
 * Connects to the central registry. A password @ask gives goes to libpq for
 * this connection only and is wiped with its #FstSecret; a refused one is
 * asked again, up to three times. Fails with %FST_ERROR_DISCONNECTED when
 * the server cannot be reached (the station works on offline),
 * %FST_ERROR_PERMISSION_DENIED when it wants a password nobody gave, and
 * %FST_ERROR_CONFIG for a bad setting.
 *
 * Returns: (transfer full): a connection for one thread at a time, or %NULL
 */
FstCentral *
fst_central_connect_full(const gchar *conninfo,
                         FstCentralAskPassword ask,
                         gpointer user_data,
                         GError **error)
{
	g_autofree gchar *str = fst_central_normalize_conninfo(conninfo, error);
	g_autoptr(FstCentral) self = NULL;
	gint code = FST_ERROR_DISCONNECTED;

	if (str == NULL)
		return NULL;
	self = g_new0(FstCentral, 1);
	self->conn = fst_central_connect_once(str, NULL);
	for (guint i = 0;
	     ask != NULL && i < 3 && self->conn != NULL && PQstatus(self->conn) != CONNECTION_OK &&
	     (PQconnectionNeedsPassword(self->conn) || PQconnectionUsedPassword(self->conn));
	     i++) {
		g_autofree gchar *who = g_strdup_printf("user %s on the central registry %s:%s/%s",
		                                        PQuser(self->conn),
		                                        PQhost(self->conn),
		                                        PQport(self->conn),
		                                        PQdb(self->conn));
		/* none found: a first question; one given or found: refused */
		g_autoptr(FstSecret) password =
		    ask(who, !PQconnectionNeedsPassword(self->conn), user_data, error);
		if (password == NULL) {
			g_prefix_error(
			    error,
			    "the central registry wants a password, and libpq found none "
			    "in ~/.pgpass or $PGPASSFILE (mode 0600): ");
			return NULL;
		}
		PQfinish(self->conn);
		self->conn = fst_central_connect_once(str, password);
	}
	if (self->conn == NULL || PQstatus(self->conn) != CONNECTION_OK) {
		g_autofree gchar *msg = g_strchomp(
		    g_strdup(self->conn != NULL ? PQerrorMessage(self->conn) : "out of memory"));
		if (self->conn != NULL &&
		    (PQconnectionNeedsPassword(self->conn) || PQconnectionUsedPassword(self->conn)))
			code = FST_ERROR_PERMISSION_DENIED;
		g_set_error(error,
		            FST_ERROR,
		            code,
		            "cannot reach the central registry: %s%s",
		            msg,
		            code == FST_ERROR_PERMISSION_DENIED
		                ? " (put the password in ~/.pgpass or the file $PGPASSFILE names, "
		                  "mode 0600, or run where the station can ask for it)"
		                : "");
		return NULL;
	}
	self->server =
	    g_strdup_printf("%s:%s/%s", PQhost(self->conn), PQport(self->conn), PQdb(self->conn));
	/* read committed whatever the server's default: each statement of a
	 * sync batch sees what other stations committed before it began (the
	 * key check after its key lock), and the queue's claims skip locked
	 * rows instead of failing on them */
	if (!fst_central_exec_simple(
	        self,
	        "SET client_min_messages = warning; SET statement_timeout = 60000;"
	        " SET default_transaction_isolation = 'read committed'",
	        "setting up the session",
	        error))
		return NULL;
	return g_steal_pointer(&self);
}

/**
 * fst_central_free:
 * @self: (transfer full) (nullable): a connection
 */
void
fst_central_free(FstCentral *self)
{
	if (self == NULL)
		return;
	if (self->conn != NULL)
		PQfinish(self->conn);
	g_free(self->server);
	g_free(self->sync_station);
	g_free(self->sync_database_id);
	g_free(self);
}

/**
 * fst_central_is_connected:
 * @self: a connection
 *
 * Returns: %FALSE once the link was lost (reconnect with fst_central_connect())
 */
gboolean
fst_central_is_connected(FstCentral *self)
{
	return PQstatus(self->conn) == CONNECTION_OK;
}

/**
 * fst_central_get_server:
 * @self: a connection
 *
 * Returns: host:port/dbname, for messages
 */
const gchar *
fst_central_get_server(FstCentral *self)
{
	return self->server;
}

/* whether the server rolled back the transaction of the failed statement
 * @res for a deadlock (40P01) or a serialization failure (40001): errors
 * PostgreSQL asks its clients to meet by running the transaction again */
gboolean
_fst_central_result_retryable(const PGresult *res)
{
	const gchar *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return g_strcmp0(state, "40P01") == 0 || g_strcmp0(state, "40001") == 0;
}

/* maps a failed statement to a GError: a lost link is DISCONNECTED (the sync
 * retries later), anything else DATABASE */
static void
fst_central_set_error(FstCentral *self, const PGresult *res, const gchar *what, GError **error)
{
	const gchar *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(self->conn);
	g_autofree gchar *text =
	    g_strchomp(g_strdup(msg != NULL && msg[0] != '\0' ? msg : "no answer"));
	gint code =
	    PQstatus(self->conn) == CONNECTION_OK ? FST_ERROR_DATABASE : FST_ERROR_DISCONNECTED;

	self->retryable = _fst_central_result_retryable(res);
	g_set_error(
	    error, FST_ERROR, code, "central registry %s: %s: %s", self->server, what, text);
}

PGresult *
fst_central_exec(FstCentral *self,
                 const gchar *sql,
                 gint n_params,
                 const gchar *const *values,
                 const gint *lengths,
                 const gint *formats,
                 const gchar *what,
                 GError **error)
{
	g_autoptr(PGresult) res =
	    PQexecParams(self->conn, sql, n_params, NULL, values, lengths, formats, 0);
	ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fst_central_set_error(self, res, what, error);
		return NULL;
	}
	return g_steal_pointer(&res);
}

gboolean
fst_central_exec_simple(FstCentral *self, const gchar *sql, const gchar *what, GError **error)
{
	g_autoptr(PGresult) res = PQexec(self->conn, sql);
	ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fst_central_set_error(self, res, what, error);
		return FALSE;
	}
	return TRUE;
}

gint64
fst_central_get_int(const PGresult *res, gint row, gint col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

gchar *
fst_central_get_text(const PGresult *res, gint row, gint col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return g_strdup(PQgetvalue(res, row, col));
}

/* a bytea column of a text-format result */
GBytes *
fst_central_get_bytea(const PGresult *res, gint row, gint col)
{
	size_t len = 0;
	guchar *raw;
	GBytes *bytes;

	if (PQgetisnull(res, row, col))
		return NULL;
	raw = PQunescapeBytea((const guchar *)PQgetvalue(res, row, col), &len);
	if (raw == NULL)
		return NULL;
	bytes = g_bytes_new(raw, len);
	PQfreemem(raw);
	return bytes;
}

/* a query's rows as a list: @row_func makes one element of each row, which
 * @free_func frees */
GPtrArray *
fst_central_exec_rows(FstCentral *self,
                      const gchar *sql,
                      gint n_params,
                      const gchar *const *values,
                      FstCentralRowFunc row_func,
                      GDestroyNotify free_func,
                      const gchar *what,
                      GError **error)
{
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(free_func);
	g_autoptr(PGresult) res =
	    fst_central_exec(self, sql, n_params, values, NULL, NULL, what, error);

	if (res == NULL)
		return NULL;
	for (gint i = 0; i < PQntuples(res); i++)
		g_ptr_array_add(out, row_func(res, i));
	return g_steal_pointer(&out);
}

/**
 * fst_central_get_schema_version:
 * @self: a connection
 * @version: (out): the central schema version, 0 for an empty database
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success
 */
gboolean
fst_central_get_schema_version(FstCentral *self, guint *version, GError **error)
{
	g_autoptr(PGresult) res = NULL;

	res = fst_central_exec(self,
	                       "SELECT to_regclass('fst_central_migrations') IS NOT NULL",
	                       0,
	                       NULL,
	                       NULL,
	                       NULL,
	                       "reading the schema version",
	                       error);
	if (res == NULL)
		return FALSE;
	if (g_strcmp0(PQgetvalue(res, 0, 0), "t") != 0) {
		*version = 0;
		return TRUE;
	}
	g_clear_pointer(&res, PQclear);
	res = fst_central_exec(self,
	                       "SELECT coalesce(max(version), 0) FROM fst_central_migrations",
	                       0,
	                       NULL,
	                       NULL,
	                       NULL,
	                       "reading the schema version",
	                       error);
	if (res == NULL)
		return FALSE;
	*version = (guint)fst_central_get_int(res, 0, 0);
	return TRUE;
}

/**
 * fst_central_check_schema:
 * @self: a connection
 * @error: return location for a #GError
 *
 * Checks that the central schema is the one this code writes.
 *
 * Returns: %TRUE if it is; %FALSE with %FST_ERROR_CONFIG saying to run
 *   `fleetstation central init` (older) or to update fleetstation (newer)
 */
gboolean
fst_central_check_schema(FstCentral *self, GError **error)
{
	guint version = 0;

	if (!fst_central_get_schema_version(self, &version, error))
		return FALSE;
	if (version < FST_CENTRAL_SCHEMA_VERSION) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "the central registry %s has schema version %u, this fleetstation "
		            "needs %u: run fleetstation central init",
		            self->server,
		            version,
		            FST_CENTRAL_SCHEMA_VERSION);
		return FALSE;
	}
	if (version > FST_CENTRAL_SCHEMA_VERSION) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "the central registry %s has schema version %u, newer than the %u "
		            "this fleetstation knows: update fleetstation on this station",
		            self->server,
		            version,
		            FST_CENTRAL_SCHEMA_VERSION);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_central_migrate:
 * @self: a connection
 * @from: (out) (optional): the version found
 * @to: (out) (optional): the version reached
 * @error: return location for a #GError
 *
 * Creates the central schema in an empty database, or brings an older one
 * to %FST_CENTRAL_SCHEMA_VERSION, one version per transaction, each under a
 * transaction-level advisory lock (several stations may run it at once: each
 * version is applied once). A newer schema is refused and left alone.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_central_migrate(FstCentral *self, guint *from, guint *to, GError **error)
{
	return fst_central_migrate_to(self, FST_CENTRAL_SCHEMA_VERSION, from, to, error);
}

/* fst_central_migrate() up to @target (a migration test starts from an
 * older version) */
gboolean
fst_central_migrate_to(FstCentral *self, guint target, guint *from, guint *to, GError **error)
{
	guint version = 0;
	guint found = G_MAXUINT;

	for (;;) {
		g_autoptr(GError) error_local = NULL;
		g_autofree gchar *vstr = NULL;
		const gchar *sql;
		const gchar *params[2];

		if (!fst_central_exec_simple(self, "BEGIN", "starting a migration", error))
			return FALSE;
		if (!fst_central_exec_simple(
		        self,
		        "SELECT pg_advisory_xact_lock(" FST_CENTRAL_MIGRATION_LOCK ")",
		        "locking the schema",
		        &error_local) ||
		    !fst_central_get_schema_version(self, &version, &error_local)) {
			fst_central_exec_simple(self, "ROLLBACK", "rolling back", NULL);
			g_propagate_error(error, g_steal_pointer(&error_local));
			return FALSE;
		}
		if (found == G_MAXUINT)
			found = version;
		if (version >= target) {
			fst_central_exec_simple(self, "ROLLBACK", "rolling back", NULL);
			if (version > FST_CENTRAL_SCHEMA_VERSION)
				return fst_central_check_schema(self, error);
			break;
		}
		sql = fst_central_schema_sql(version + 1);
		vstr = g_strdup_printf("%u", version + 1);
		params[0] = vstr;
		params[1] = FST_VERSION;
		if (sql == NULL) {
			fst_central_exec_simple(self, "ROLLBACK", "rolling back", NULL);
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INTERNAL,
			            "no migration to central schema version %u",
			            version + 1);
			return FALSE;
		}
		if (!fst_central_exec_simple(
		        self, sql, "creating the central schema", &error_local)) {
			fst_central_exec_simple(self, "ROLLBACK", "rolling back", NULL);
			g_propagate_prefixed_error(error,
			                           g_steal_pointer(&error_local),
			                           "migrating to central schema version %u: ",
			                           version + 1);
			return FALSE;
		}
		{
			g_autoptr(PGresult) res = fst_central_exec(
			    self,
			    "INSERT INTO fst_central_migrations (version, software_version) "
			    "VALUES ($1::integer, $2)",
			    2,
			    params,
			    NULL,
			    NULL,
			    "recording the migration",
			    &error_local);
			if (res == NULL) {
				fst_central_exec_simple(self, "ROLLBACK", "rolling back", NULL);
				g_propagate_error(error, g_steal_pointer(&error_local));
				return FALSE;
			}
		}
		if (!fst_central_exec_simple(self, "COMMIT", "committing the migration", error))
			return FALSE;
		g_info(
		    "central registry %s migrated to schema version %u", self->server, version + 1);
	}
	if (from != NULL)
		*from = found;
	if (to != NULL)
		*to = version;
	return TRUE;
}

/**
 * fst_central_reserve:
 * @self: a connection
 * @station: the station that is about to issue
 * @uid: the device id
 * @error: return location for a #GError
 *
 * Reserves a device id for @station before it issues a certificate: a
 * reservation another station holds (not released) refuses it. Two stations
 * racing on one id: the primary key lets exactly one of them in. A
 * reservation the same station holds is renewed.
 *
 * Returns: %TRUE if @station may go on; %FALSE with %FST_ERROR_BUSY naming
 *   the station holding it
 */
gboolean
fst_central_reserve(FstCentral *self, const gchar *station, const gchar *uid, GError **error)
{
	const gchar *params[] = {uid, station};
	g_autoptr(PGresult) res = NULL;
	g_autofree gchar *holder = NULL;

	res =
	    fst_central_exec(self,
	                     "INSERT INTO reservations AS r (device_uid, station) VALUES ($1, $2) "
	                     "ON CONFLICT (device_uid) DO UPDATE SET station = EXCLUDED.station, "
	                     "  reserved_at = now(), released_at = NULL "
	                     "  WHERE r.station = EXCLUDED.station OR r.released_at IS NOT NULL "
	                     "RETURNING station",
	                     2,
	                     params,
	                     NULL,
	                     NULL,
	                     "reserving a device id",
	                     error);
	if (res == NULL)
		return FALSE;
	if (PQntuples(res) == 1)
		return TRUE;
	g_clear_pointer(&res, PQclear);
	res =
	    fst_central_exec(self,
	                     "SELECT station, reserved_at FROM reservations WHERE device_uid = $1",
	                     1,
	                     params,
	                     NULL,
	                     NULL,
	                     "reading a reservation",
	                     error);
	if (res == NULL)
		return FALSE;
	holder =
	    PQntuples(res) == 1 ? fst_central_get_text(res, 0, 0) : g_strdup("another station");
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_BUSY,
	            "device %s is being provisioned by station %s (reserved in the central "
	            "registry since %s): nothing was issued here; take the board off this "
	            "station, or wait for %s to finish and put it back",
	            uid,
	            holder,
	            PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : "?",
	            holder);
	return FALSE;
}

/**
 * fst_central_find_key_holder:
 * @self: a connection
 * @key_sha256: the SHA-256 a public key is filed under
 *   (fst_crypto_public_key_sha256()), lower-case hex
 * @uid: the device the key is about to be certified for
 * @station: (out) (optional) (transfer full): the station of the holder
 * @serial_hex: (out) (optional) (transfer full): the holder's certificate
 * @error: return location for a #GError
 *
 * The device, other than @uid, a certificate for the key was issued to at
 * any station, as far as the registry knows (its flagged certificates
 * aside).
 *
 * Returns: (transfer full) (nullable): its uid, or %NULL (with @error unset
 *   when there is none)
 */
gchar *
fst_central_find_key_holder(FstCentral *self,
                            const gchar *key_sha256,
                            const gchar *uid,
                            gchar **station,
                            gchar **serial_hex,
                            GError **error)
{
	const gchar *params[] = {key_sha256, uid};
	g_autoptr(PGresult) res = NULL;

	res = fst_central_exec(self,
	                       "SELECT c.device_uid, s.name, c.serial_hex FROM certificates c"
	                       " JOIN stations s ON s.id = c.station_id"
	                       " WHERE c.key_sha256 = $1 AND c.device_uid <> $2"
	                       " AND c.conflict IS NULL LIMIT 1",
	                       2,
	                       params,
	                       NULL,
	                       NULL,
	                       "looking up who holds a key",
	                       error);
	if (res == NULL || PQntuples(res) == 0)
		return NULL;
	if (station != NULL)
		*station = fst_central_get_text(res, 0, 1);
	if (serial_hex != NULL)
		*serial_hex = fst_central_get_text(res, 0, 2);
	return fst_central_get_text(res, 0, 0);
}

/**
 * fst_central_release:
 * @self: a connection
 * @station: the station that reserved @uid
 * @uid: the device id
 * @error: return location for a #GError
 *
 * Releases a reservation once the station's attempt ended (whatever its
 * outcome): the device may then come back at any station, where its
 * history decides. Releasing what another station holds does nothing.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_central_release(FstCentral *self, const gchar *station, const gchar *uid, GError **error)
{
	const gchar *params[] = {uid, station};
	g_autoptr(PGresult) res =
	    fst_central_exec(self,
	                     "UPDATE reservations SET released_at = now() "
	                     "WHERE device_uid = $1 AND station = $2 AND released_at IS NULL",
	                     2,
	                     params,
	                     NULL,
	                     NULL,
	                     "releasing a device id",
	                     error);
	return res != NULL;
}

/**
 * fst_central_handover:
 * @self: a connection
 * @uid: the device id
 * @old_station: the station whose certificate is in service
 * @old_serial: that certificate
 * @new_station: the station re-provisioning the device
 * @error: return location for a #GError
 *
 * Records that @new_station re-provisions a device another station
 * provisioned (its profile says on-return=reprovision). When the new
 * certificate reaches the registry in service, @old_serial is marked
 * superseded by it there (not a conflict); the other station's own records
 * keep it as they have it.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_central_handover(FstCentral *self,
                     const gchar *uid,
                     const gchar *old_station,
                     const gchar *old_serial,
                     const gchar *new_station,
                     GError **error)
{
	const gchar *params[] = {uid, old_station, old_serial, new_station};
	g_autoptr(PGresult) res = fst_central_exec(
	    self,
	    "INSERT INTO handovers (device_uid, old_station, old_serial, new_station)"
	    " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
	    4,
	    params,
	    NULL,
	    NULL,
	    "recording a handover",
	    error);
	return res != NULL;
}

void
fst_central_station_free(FstCentralStation *self)
{
	if (self == NULL)
		return;
	g_free(self->name);
	g_free(self->database_id);
	g_free(self->host);
	g_free(self->head_hash);
	g_free(self);
}

/* one row of fst_central_list_stations() */
static gpointer
fst_central_station_from_row(const PGresult *res, gint i)
{
	FstCentralStation *st = g_new0(FstCentralStation, 1);
	st->name = fst_central_get_text(res, i, 0);
	st->database_id = fst_central_get_text(res, i, 1);
	st->host = fst_central_get_text(res, i, 2);
	st->head_id = fst_central_get_int(res, i, 3);
	st->head_hash = fst_central_get_text(res, i, 4);
	st->last_sync_at = fst_central_get_int(res, i, 5);
	st->devices = fst_central_get_int(res, i, 6);
	st->certificates = fst_central_get_int(res, i, 7);
	st->events = fst_central_get_int(res, i, 8);
	st->conflicts = fst_central_get_int(res, i, 9);
	return st;
}

/**
 * fst_central_list_stations:
 * @self: a connection
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type FstCentralStation): every
 *   station that shipped records, by name, with its counts
 */
GPtrArray *
fst_central_list_stations(FstCentral *self, GError **error)
{
	return fst_central_exec_rows(
	    self,
	    "SELECT s.name, s.database_id, s.host, s.head_id, s.head_hash,"
	    "  coalesce((extract(epoch FROM s.last_sync_at) * 1000000)::bigint, 0),"
	    "  (SELECT count(*) FROM devices d WHERE d.station_id = s.id),"
	    "  (SELECT count(*) FROM certificates c WHERE c.station_id = s.id),"
	    "  (SELECT count(*) FROM events e WHERE e.station_id = s.id),"
	    "  (SELECT count(*) FROM conflicts f WHERE f.station = s.name) "
	    "FROM stations s ORDER BY s.name",
	    0,
	    NULL,
	    fst_central_station_from_row,
	    (GDestroyNotify)fst_central_station_free,
	    "listing the stations",
	    error);
}

void
fst_central_conflict_free(FstCentralConflict *self)
{
	if (self == NULL)
		return;
	g_free(self->kind);
	g_free(self->device_uid);
	g_free(self->serial_hex);
	g_free(self->station);
	g_free(self->other_station);
	g_free(self->detail);
	g_free(self);
}

/* one row of fst_central_list_conflicts() */
static gpointer
fst_central_conflict_from_row(const PGresult *res, gint i)
{
	FstCentralConflict *c = g_new0(FstCentralConflict, 1);
	c->id = fst_central_get_int(res, i, 0);
	c->kind = fst_central_get_text(res, i, 1);
	c->device_uid = fst_central_get_text(res, i, 2);
	c->serial_hex = fst_central_get_text(res, i, 3);
	c->station = fst_central_get_text(res, i, 4);
	c->other_station = fst_central_get_text(res, i, 5);
	c->detail = fst_central_get_text(res, i, 6);
	c->found_at = fst_central_get_int(res, i, 7);
	return c;
}

/**
 * fst_central_list_conflicts:
 * @self: a connection
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type FstCentralConflict): every
 *   conflict found at sync, oldest first
 */
GPtrArray *
fst_central_list_conflicts(FstCentral *self, GError **error)
{
	return fst_central_exec_rows(
	    self,
	    "SELECT id, kind, device_uid, serial_hex, station, other_station, detail,"
	    "  (extract(epoch FROM found_at) * 1000000)::bigint "
	    "FROM conflicts ORDER BY id",
	    0,
	    NULL,
	    fst_central_conflict_from_row,
	    (GDestroyNotify)fst_central_conflict_free,
	    "listing the conflicts",
	    error);
}

void
fst_central_cert_free(FstCentralCert *self)
{
	if (self == NULL)
		return;
	g_free(self->station);
	g_free(self->device_uid);
	g_free(self->serial_hex);
	g_free(self->issuer_sha256);
	g_free(self->aws_cert_id);
	g_free(self->state);
	g_free(self->lot);
	g_free(self->operator_name);
	g_free(self->profile);
	g_free(self->conflict);
	g_free(self->superseded_by);
	g_free(self);
}

/* one row of fst_central_list_certificates() */
static gpointer
fst_central_cert_from_row(const PGresult *res, gint i)
{
	FstCentralCert *c = g_new0(FstCentralCert, 1);
	c->station = fst_central_get_text(res, i, 0);
	c->device_uid = fst_central_get_text(res, i, 1);
	c->serial_hex = fst_central_get_text(res, i, 2);
	c->issuer_sha256 = fst_central_get_text(res, i, 3);
	c->aws_cert_id = fst_central_get_text(res, i, 4);
	c->state = fst_central_get_text(res, i, 5);
	c->slot = (gint)fst_central_get_int(res, i, 6);
	c->lot = fst_central_get_text(res, i, 7);
	c->operator_name = fst_central_get_text(res, i, 8);
	c->profile = fst_central_get_text(res, i, 9);
	c->created_at = fst_central_get_int(res, i, 10);
	c->conflict = fst_central_get_text(res, i, 11);
	c->superseded_by = fst_central_get_text(res, i, 12);
	return c;
}

/**
 * fst_central_list_certificates:
 * @self: a connection
 * @device_uid: (nullable): only this device's
 * @lot: (nullable): only this lot's
 * @error: return location for a #GError
 *
 * Returns: (transfer container) (element-type FstCentralCert): the
 *   certificates of every station, oldest first (by creation time)
 */
GPtrArray *
fst_central_list_certificates(FstCentral *self,
                              const gchar *device_uid,
                              const gchar *lot,
                              GError **error)
{
	const gchar *params[] = {device_uid, lot};

	return fst_central_exec_rows(
	    self,
	    "SELECT s.name, c.device_uid, c.serial_hex, c.issuer_sha256, c.aws_cert_id,"
	    "  c.state, c.slot, c.lot, c.operator, c.profile, c.created_at, c.conflict,"
	    "  c.superseded_by "
	    "FROM certificates c JOIN stations s ON s.id = c.station_id "
	    "WHERE ($1::text IS NULL OR c.device_uid = $1) "
	    "  AND ($2::text IS NULL OR c.lot = $2) "
	    "ORDER BY c.created_at, s.name, c.local_id",
	    2,
	    params,
	    fst_central_cert_from_row,
	    (GDestroyNotify)fst_central_cert_free,
	    "listing certificates",
	    error);
}
