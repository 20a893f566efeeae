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

#include "fst-error.h"
#include "fst-openssl-common.h"

/*
 * The station database (db/schema.md): stations, devices, and the session context (operators,
 * lots).
 */

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
	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "record the station";
	gboolean found = FALSE;
	gint64 now = g_get_real_time();
	gint rc;

	g_return_val_if_fail(self != NULL, 0);

	if (!_fst_db_check_text("station name", name, FST_DB_MAX_NAME, TRUE, TRUE, error) ||
	    !_fst_db_check_text("station host", host, FST_DB_MAX_NAME, FALSE, TRUE, error) ||
	    !_fst_db_check_text(
	        "software version", software_version, FST_DB_MAX_NAME, FALSE, TRUE, error))
		return 0;

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!_fst_db_transaction_begin(&tx, self, what, error))
		return 0;
	stmt = _fst_db_prepare(self,
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
	if (!_fst_db_check_bind(self, rc, what, error))
		return 0;
	if (!_fst_db_step_row(self, stmt, &found, what, error))
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
	if (!_fst_db_step_done(self, stmt, what, error))
		return 0;
	g_clear_pointer(&stmt, _fst_db_stmt_release);
	if (!_fst_db_transaction_commit(&tx, what, error))
		return 0;
	return self->station_id;
}

/* the device strings are untrusted: bounded, UTF-8, no control characters */
gboolean
_fst_db_check_device_info(const FstDeviceInfo *info, const gchar *port, GError **error)
{
	return _fst_db_check_text("device uid", info->uid, FST_DB_MAX_NAME, TRUE, TRUE, error) &&
	       _fst_db_check_text(
	           "device model", info->model, FST_DB_MAX_NAME, FALSE, TRUE, error) &&
	       _fst_db_check_text(
	           "device firmware", info->firmware, FST_DB_MAX_NAME, FALSE, TRUE, error) &&
	       _fst_db_check_text("port", port, FST_DB_MAX_PORT, FALSE, TRUE, error);
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
	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *key_types = NULL;
	g_autofree gchar *validation = NULL;
	g_autofree gchar *what = NULL;
	gboolean found = FALSE;
	gint64 device_id;
	gint rc;

	g_return_val_if_fail(self != NULL, 0);
	g_return_val_if_fail(info != NULL, 0);

	if (!_fst_db_check_device_info(info, port, error))
		return 0;
	key_types = fst_key_types_to_string(info->key_types);
	validation = fst_validation_to_string(info->validation);
	what = g_strdup_printf("record device %s", info->uid);

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!_fst_db_transaction_begin(&tx, self, what, error))
		return 0;
	/* no RETURNING: SQLite gathers its rows in a temporary table; the
	 * row is read back by its unique uid instead, with its station */
	stmt = _fst_db_prepare(
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
	    "updated_at = excluded.updated_at",
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
	rc |= _fst_db_bind_id(stmt, 8, station_id);
	rc |= sqlite3_bind_int64(stmt, 9, g_get_real_time());
	rc |= _fst_db_bind_id(stmt, 10, self->operator_id);
	rc |= _fst_db_bind_id(stmt, 11, self->lot_id);
	if (!_fst_db_check_bind(self, rc, what, error))
		return 0;
	if (!_fst_db_step_done(self, stmt, what, error))
		return 0;
	g_clear_pointer(&stmt, _fst_db_stmt_release);
	stmt =
	    _fst_db_prepare(self, "SELECT id, station_id FROM devices WHERE uid = ?1", what, error);
	if (stmt == NULL)
		return 0;
	if (!_fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, info->uid, -1, SQLITE_TRANSIENT), what, error))
		return 0;
	if (!_fst_db_step_row(self, stmt, &found, what, error))
		return 0;
	if (!found) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "recording device %s in %s left no row",
		            info->uid,
		            self->path);
		return 0;
	}
	device_id = sqlite3_column_int64(stmt, 0);
	/* the device's station, for the records that follow in this
	 * transaction (fst_db_get_device_station_locked()) */
	self->tx_device_id = device_id;
	self->tx_device_station = sqlite3_column_int64(stmt, 1);
	g_clear_pointer(&stmt, _fst_db_stmt_release);
	if (!_fst_db_transaction_commit(&tx, what, error))
		return 0;
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
	stmt = _fst_db_prepare(self, "SELECT station_id FROM devices WHERE id = ?1", what, error);
	if (stmt == NULL)
		return FALSE;
	if (!_fst_db_check_bind(self, sqlite3_bind_int64(stmt, 1, device_id), what, error))
		return FALSE;
	if (!_fst_db_step_row(self, stmt, found, what, error))
		return FALSE;
	*station_id = *found ? sqlite3_column_int64(stmt, 0) : 0;
	/* only inside a write transaction, which keeps other writers out */
	if (*found && !sqlite3_get_autocommit(self->db)) {
		self->tx_device_id = device_id;
		self->tx_device_station = *station_id;
	}
	return TRUE;
}

gboolean
_fst_db_require_device_locked(FstDb *self, gint64 device_id, gint64 *station_id, GError **error)
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

gboolean
_fst_db_set_device_state_locked(
    FstDb *self, gint64 device_id, FstDbDeviceState state, const gchar *last_error, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autofree gchar *what = g_strdup_printf(
	    "mark device %" G_GINT64_FORMAT " %s", device_id, fst_db_device_state_to_string(state));
	gint rc;

	stmt = _fst_db_prepare(self,
	                       "UPDATE devices SET state = ?1, last_error = ?2, updated_at = ?3 "
	                       "WHERE id = ?4",
	                       what,
	                       error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_text(stmt, 1, fst_db_device_state_to_string(state), -1, SQLITE_STATIC);
	rc |= sqlite3_bind_text(stmt, 2, last_error, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 3, g_get_real_time());
	rc |= sqlite3_bind_int64(stmt, 4, device_id);
	if (!_fst_db_check_bind(self, rc, what, error))
		return FALSE;
	return _fst_db_step_done(self, stmt, what, error);
}

gchar *
_fst_db_get_device_uid_locked(FstDb *self, gint64 device_id)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	gboolean found = FALSE;

	stmt = _fst_db_prepare(
	    self, "SELECT uid FROM devices WHERE id = ?1", "look up a device", NULL);
	if (stmt == NULL || sqlite3_bind_int64(stmt, 1, device_id) != SQLITE_OK ||
	    !_fst_db_step_row(self, stmt, &found, "look up a device", NULL) || !found)
		return g_strdup_printf("%" G_GINT64_FORMAT, device_id);
	return _fst_db_column_strdup(stmt, 0);
}

/* reading devices */

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
	dev->uid = _fst_db_column_strdup(stmt, 1);
	dev->model = _fst_db_column_strdup(stmt, 2);
	dev->firmware = _fst_db_column_strdup(stmt, 3);
	dev->port = _fst_db_column_strdup(stmt, 4);
	if (!fst_db_device_state_from_string((const gchar *)sqlite3_column_text(stmt, 5),
	                                     &dev->state)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "device %s in %s has unknown state '%s': restore the database from a "
		            "backup",
		            dev->uid != NULL ? dev->uid : "(null)",
		            self->path,
		            sqlite3_column_text(stmt, 5) != NULL
		                ? (const gchar *)sqlite3_column_text(stmt, 5)
		                : "(null)");
		return NULL;
	}
	dev->last_error = _fst_db_column_strdup(stmt, 6);
	dev->protocol_version = (guint)CLAMP(sqlite3_column_int64(stmt, 7), 0, G_MAXUINT32);
	dev->key_types = _fst_db_column_strdup(stmt, 8);
	dev->validation = _fst_db_column_strdup(stmt, 9);
	dev->station_id = sqlite3_column_int64(stmt, 10);
	dev->created_at = sqlite3_column_int64(stmt, 11);
	dev->updated_at = sqlite3_column_int64(stmt, 12);
	dev->operator_name = _fst_db_column_strdup(stmt, 25);
	dev->lot = _fst_db_column_strdup(stmt, 26);

	if (sqlite3_column_type(stmt, 13) != SQLITE_NULL) {
		g_autoptr(FstDbCert) cert = g_new0(FstDbCert, 1);
		const gchar *state = (const gchar *)sqlite3_column_text(stmt, 22);
		gconstpointer der = sqlite3_column_blob(stmt, 14);
		gint der_len = sqlite3_column_bytes(stmt, 14);

		cert->serial_hex = _fst_db_column_strdup(stmt, 13);
		cert->der = g_bytes_new(der, der != NULL ? (gsize)der_len : 0);
		cert->aws_cert_id = _fst_db_column_strdup(stmt, 15);
		cert->subject = _fst_db_column_strdup(stmt, 16);
		cert->key_type = _fst_db_column_strdup(stmt, 17);
		cert->not_before = sqlite3_column_int64(stmt, 18);
		cert->not_after = sqlite3_column_int64(stmt, 19);
		cert->issuer_sha256 = _fst_db_column_strdup(stmt, 20);
		cert->profile = _fst_db_column_strdup(stmt, 21);
		cert->created_at = sqlite3_column_int64(stmt, 23);
		cert->updated_at = sqlite3_column_int64(stmt, 24);
		cert->id = sqlite3_column_int64(stmt, 27);
		cert->revoked_at = sqlite3_column_int64(stmt, 28);
		cert->revocation_reason = _fst_db_column_strdup(stmt, 29);
		cert->slot = sqlite3_column_int(stmt, 30);
		cert->device_uid = g_strdup(dev->uid);
		if (!_fst_cert_state_from_string(state, &cert->state)) {
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

	if (!_fst_db_check_text("device uid", uid, FST_DB_MAX_NAME, TRUE, TRUE, error))
		return NULL;
	what = g_strdup_printf("look up device %s", uid);

	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = _fst_db_prepare(self, FST_DB_DEVICE_SELECT "WHERE d.uid = ?1", what, error);
	if (stmt == NULL)
		return NULL;
	if (!_fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, uid, -1, SQLITE_TRANSIENT), what, error))
		return NULL;
	if (!_fst_db_step_row(self, stmt, &found, what, error))
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

/* the device that @sql finds for @value, or NULL: @error is set only when
 * the database fails, not when there is none */
static FstDbDevice *
fst_db_find_device_by_cert_locked(FstDb *self, const gchar *sql, const gchar *value, GError **error)
{
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "look up a device by its certificate";
	gboolean found = FALSE;

	stmt = _fst_db_prepare(self, sql, what, error);
	if (stmt == NULL)
		return NULL;
	if (!_fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, value, -1, SQLITE_TRANSIENT), what, error))
		return NULL;
	if (!_fst_db_step_row(self, stmt, &found, what, error) || !found)
		return NULL;
	return fst_db_device_from_row(self, stmt, error);
}

/**
 * fst_db_search_device:
 * @self: an #FstDb
 * @text: what a person knows of the device: its uid, or the serial (hex, any
 *   case) or AWS certificate id (the SHA-256 of the DER, 64 hex digits, any
 *   case) of one of its certificates
 * @error: (nullable): return location for a #GError
 *
 * Finds a device as `fleetstation show` and the GUI's history search do: by
 * uid first; else, for hex text, by a certificate's serial (its unique
 * index); else, for 64 hex digits, by a certificate's AWS id (a scan of the
 * certificates, which have no index on it).
 *
 * Returns: (transfer full): the device with its newest certificate, or %NULL
 *   with %FST_ERROR_NOT_FOUND when nothing matches
 */
FstDbDevice *
fst_db_search_device(FstDb *self, const gchar *text, GError **error)
{
	static const gchar by_serial[] = FST_DB_DEVICE_SELECT
	    "WHERE d.id = (SELECT device_id FROM certificates WHERE serial_hex = ?1)";
	static const gchar by_aws_id[] = FST_DB_DEVICE_SELECT
	    "WHERE d.id = (SELECT device_id FROM certificates WHERE aws_cert_id = ?1)";
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *aws_cert_id = NULL;
	FstDbDevice *dev;

	g_return_val_if_fail(self != NULL, NULL);

	locker = g_rec_mutex_locker_new(&self->mutex);
	dev = fst_db_find_device(self, text, &error_local);
	if (dev != NULL)
		return dev;
	if (!g_error_matches(error_local, FST_ERROR, FST_ERROR_NOT_FOUND)) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	g_clear_error(&error_local);
	serial =
	    _fst_db_normalize_hex("certificate serial", text, 1, FST_DB_MAX_SERIAL_HEX, TRUE, NULL);
	if (serial != NULL)
		dev = fst_db_find_device_by_cert_locked(self, by_serial, serial, &error_local);
	aws_cert_id = _fst_db_normalize_hex(
	    "AWS certificate id", text, FST_DB_SHA256_HEX, FST_DB_SHA256_HEX, FALSE, NULL);
	if (dev == NULL && error_local == NULL && aws_cert_id != NULL)
		dev = fst_db_find_device_by_cert_locked(self, by_aws_id, aws_cert_id, &error_local);
	if (dev != NULL)
		return dev;
	if (error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_NOT_FOUND,
	            "no device, certificate serial or AWS certificate id %s in %s: check "
	            "it, or the database path",
	            text,
	            self->path);
	return NULL;
}

/**
 * fst_db_foreach_device:
 * @self: an #FstDb
 * @state: (nullable): only the devices in this state (an #FstDbDeviceState
 *   name), or %NULL for all
 * @func: called with each device (transfer full), oldest first, with its
 *   newest certificate; it returns %FALSE to stop
 * @user_data: data for @func
 * @error: (nullable): return location for a #GError
 *
 * Goes through the devices one row at a time, so that a listing of a
 * million devices holds one of them in memory, not all. @func runs with the
 * database's lock held: it must not call the database.
 *
 * Returns: %TRUE once every device was given (or @func stopped), %FALSE on
 *   error (%FST_ERROR_INVALID_DATA for an unknown state)
 */
gboolean
fst_db_foreach_device(
    FstDb *self, const gchar *state, FstDbDeviceFunc func, gpointer user_data, GError **error)
{
	static const gchar all[] = FST_DB_DEVICE_SELECT "ORDER BY d.id";
	static const gchar in_state[] = FST_DB_DEVICE_SELECT "WHERE d.state = ?1 ORDER BY d.id";
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "list devices";
	gboolean known = FALSE;
	gint rc;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(func != NULL, FALSE);

	for (guint i = 0; state != NULL && i < FST_DB_DEVICE_STATE_LAST && !known; i++)
		known = g_strcmp0(fst_db_device_states[i], state) == 0;
	if (state != NULL && !known) {
		g_set_error(
		    error,
		    FST_ERROR,
		    FST_ERROR_INVALID_DATA,
		    "device state '%s' is not one of new, in-progress, provisioned, failed, "
		    "rework",
		    state);
		return FALSE;
	}
	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = _fst_db_prepare(self, state != NULL ? in_state : all, what, error);
	if (stmt == NULL)
		return FALSE;
	if (state != NULL &&
	    !_fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, state, -1, SQLITE_TRANSIENT), what, error))
		return FALSE;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstDbDevice *dev = fst_db_device_from_row(self, stmt, error);
		if (dev == NULL)
			return FALSE;
		if (!func(dev, user_data))
			return TRUE;
	}
	if (rc != SQLITE_DONE) {
		_fst_db_set_error(self, error, rc, "trying to %s", what);
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_db_list_devices_add(FstDbDevice *dev, gpointer user_data)
{
	g_ptr_array_add(user_data, dev);
	return TRUE;
}

/**
 * fst_db_list_devices:
 * @self: an #FstDb
 * @error: (nullable): return location for a #GError
 *
 * Every device in memory at once: fst_db_foreach_device() for listings.
 *
 * Returns: (transfer full) (element-type FstDbDevice): every device, oldest
 * first, each with its newest certificate; %NULL on error
 */
GPtrArray *
fst_db_list_devices(FstDb *self, GError **error)
{
	g_autoptr(GPtrArray) devices =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_db_device_free);

	g_return_val_if_fail(self != NULL, NULL);
	if (!fst_db_foreach_device(self, NULL, fst_db_list_devices_add, devices, error))
		return NULL;
	return g_steal_pointer(&devices);
}

/* the id of the row named @name in @table (operators, lots), made if
 * missing; a name recorded already is only read, so that setting the same
 * context again writes nothing (no row bound again, no sync). Called inside
 * the write transaction: no other writer can add the name in between. */
static gboolean
fst_db_ensure_named_locked(
    FstDb *self, const gchar *table, const gchar *name, gint64 *id, GError **error)
{
	g_autoptr(FstDbStmt) sel = NULL;
	g_autoptr(FstDbStmt) ins = NULL;
	g_autofree gchar *what = g_strdup_printf("record %s in %s", name, table);
	g_autofree gchar *sql_sel = g_strdup_printf("SELECT id FROM %s WHERE name = ?1", table);
	g_autofree gchar *sql_ins = g_strdup_printf(
	    "INSERT INTO %s (name, created_at) VALUES (?1, ?2) RETURNING id", table);
	gboolean found = FALSE;
	gint rc;

	sel = _fst_db_prepare(self, sql_sel, what, error);
	if (sel == NULL)
		return FALSE;
	if (!_fst_db_check_bind(
	        self, sqlite3_bind_text(sel, 1, name, -1, SQLITE_TRANSIENT), what, error) ||
	    !_fst_db_step_row(self, sel, &found, what, error))
		return FALSE;
	if (found) {
		*id = sqlite3_column_int64(sel, 0);
		return TRUE;
	}
	ins = _fst_db_prepare(self, sql_ins, what, error);
	if (ins == NULL)
		return FALSE;
	rc = sqlite3_bind_text(ins, 1, name, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(ins, 2, g_get_real_time());
	if (!_fst_db_check_bind(self, rc, what, error) ||
	    !_fst_db_step_row(self, ins, &found, what, error))
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
	*id = sqlite3_column_int64(ins, 0);
	return _fst_db_step_done(self, ins, what, error);
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
	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
	const gchar *what = "record the operator and lot";
	gint64 operator_id = 0;
	gint64 lot_id = 0;

	g_return_val_if_fail(self != NULL, FALSE);

	if (!_fst_db_check_text("operator", operator_name, FST_DB_MAX_NAME, FALSE, TRUE, error) ||
	    !_fst_db_check_text("lot", lot, FST_DB_MAX_NAME, FALSE, TRUE, error))
		return FALSE;

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!_fst_db_transaction_begin(&tx, self, what, error))
		return FALSE;
	if ((operator_name != NULL && operator_name[0] != '\0' &&
	     !fst_db_ensure_named_locked(self, "operators", operator_name, &operator_id, error)) ||
	    (lot != NULL && lot[0] != '\0' &&
	     !fst_db_ensure_named_locked(self, "lots", lot, &lot_id, error)))
		return FALSE;
	if (!_fst_db_transaction_commit(&tx, what, error))
		return FALSE;
	self->operator_id = operator_id;
	self->lot_id = lot_id;
	return TRUE;
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
 * transaction. Nothing is left silently half-done: its issued or burned
 * certificates (one may be on the device) move to `interrupted`, and are
 * superseded when the device is provisioned again.
 *
 * Returns: (transfer full) (element-type utf8): the uids marked (maybe
 * empty), or %NULL on error
 */
GPtrArray *
fst_db_mark_interrupted(FstDb *self, gint64 station_id, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
	g_autoptr(FstDbStmt) stmt = NULL;
	g_autoptr(GPtrArray) uids = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_autoptr(GPtrArray) details = g_ptr_array_new_with_free_func(g_free);
	const gchar *what = "mark interrupted devices for re-work";
	gint64 now = g_get_real_time();
	gint rc;

	g_return_val_if_fail(self != NULL, NULL);

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!_fst_db_transaction_begin(&tx, self, what, error))
		return NULL;
	stmt = _fst_db_prepare(self,
	                       "SELECT d.id, d.uid, c.serial_hex, c.state FROM devices d "
	                       "LEFT JOIN certificates c ON c.id = (SELECT max(id) FROM "
	                       "certificates WHERE device_id = d.id) WHERE d.state = "
	                       "'in-progress' AND d.station_id IS ?1 ORDER BY d.id",
	                       what,
	                       error);
	if (stmt == NULL ||
	    !_fst_db_check_bind(self, _fst_db_bind_id(stmt, 1, station_id), what, error))
		return NULL;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		gint64 id = sqlite3_column_int64(stmt, 0);
		const gchar *serial = (const gchar *)sqlite3_column_text(stmt, 2);
		const gchar *state = (const gchar *)sqlite3_column_text(stmt, 3);
		g_array_append_val(ids, id);
		g_ptr_array_add(uids, _fst_db_column_strdup(stmt, 1));
		if (serial != NULL)
			g_ptr_array_add(details,
			                g_strdup_printf("the station stopped while provisioning it "
			                                "(certificate %s was %s%s): provision it "
			                                "again",
			                                serial,
			                                state,
			                                g_strcmp0(state, "issued") == 0 ||
			                                        g_strcmp0(state, "burned") == 0
			                                    ? ", now interrupted"
			                                    : ""));
		else
			g_ptr_array_add(details,
			                g_strdup("the station stopped while provisioning it (no "
			                         "certificate was issued): provision it again"));
	}
	g_clear_pointer(&stmt, _fst_db_stmt_release);
	if (rc != SQLITE_DONE) {
		_fst_db_set_error(self, error, rc, "trying to %s", what);
		return NULL;
	}
	for (guint i = 0; i < ids->len; i++) {
		gint64 id = g_array_index(ids, gint64, i);
		const gchar *detail = g_ptr_array_index(details, i);
		if (!_fst_db_interrupt_certificates_locked(self, id, error) ||
		    !_fst_db_set_device_state_locked(
		        self, id, FST_DB_DEVICE_STATE_REWORK, detail, error) ||
		    !_fst_db_insert_event_locked(self,
		                                 id,
		                                 station_id,
		                                 "interrupted",
		                                 now,
		                                 now,
		                                 "interrupted",
		                                 detail,
		                                 error))
			return NULL;
	}
	if (!_fst_db_transaction_commit(&tx, what, error))
		return NULL;
	return g_steal_pointer(&uids);
}
