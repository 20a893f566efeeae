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
 * The station database (db/schema.md): the device log: a device's records gathered in memory and
 * written in one durable transaction per commit, and the end of an attempt.
 */

/* fst_db_add_object()'s checks and hash, which need no database: made in
 * the lane for a device log, before its commit */
static gboolean
fst_db_object_prepare(const gchar *serial_hex,
                      FstObjectKind kind,
                      GBytes *data,
                      const gchar *contents,
                      gchar **serial,
                      gchar **sha256,
                      GError **error)
{
	if (kind < FST_OBJECT_DEVICE_CERT || kind >= FST_OBJECT_LAST) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "object kind %d is not one the database knows",
		            (gint)kind);
		return FALSE;
	}
	if (serial_hex != NULL) {
		*serial = _fst_db_normalize_hex(
		    "certificate serial", serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
		if (*serial == NULL)
			return FALSE;
	}
	if (!_fst_db_check_text(
	        "object contents", contents, FST_DB_MAX_CONTENTS, FALSE, FALSE, error)) {
		g_clear_pointer(serial, g_free);
		return FALSE;
	}
	*sha256 = fst_crypto_sha256_hex(g_bytes_get_data(data, NULL), g_bytes_get_size(data));
	return TRUE;
}

/* the write of fst_db_add_object(), from what fst_db_object_prepare() made */
static gboolean
fst_db_add_object_prepared(FstDb *self,
                           gint64 device_id,
                           const gchar *serial,
                           FstObjectKind kind,
                           const gchar *sha256,
                           gsize len,
                           const gchar *contents,
                           GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "record an object written to a device";
	FstCertState state = FST_CERT_STATE_ISSUED;
	gint64 station_id = 0;
	gint64 cert_id = 0;
	gint64 cert_device = 0;
	gint rc;

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!_fst_db_transaction_begin(&tx, self, what, error))
		return FALSE;
	if (!_fst_db_require_device_locked(self, device_id, &station_id, error))
		return FALSE;
	if (serial != NULL) {
		gboolean found = FALSE;
		if (!_fst_db_get_cert_locked(
		        self, serial, &found, &cert_id, &cert_device, &state, error))
			return FALSE;
		if (!found || cert_device != device_id) {
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
	    _fst_db_prepare(self,
	                    "INSERT INTO device_objects (device_id, certificate_id, kind, sha256, "
	                    "length, contents, station_id, written_at) VALUES (?1, ?2, ?3, ?4, "
	                    "?5, ?6, ?7, ?8)",
	                    what,
	                    error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, device_id);
	rc |= _fst_db_bind_id(stmt, 2, cert_id);
	rc |= sqlite3_bind_text(stmt, 3, fst_object_kind_to_string(kind), -1, SQLITE_STATIC);
	rc |= sqlite3_bind_text(stmt, 4, sha256, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 5, (gint64)len);
	rc |= sqlite3_bind_text(stmt, 6, contents, -1, SQLITE_TRANSIENT);
	rc |= _fst_db_bind_id(stmt, 7, station_id);
	rc |= sqlite3_bind_int64(stmt, 8, g_get_real_time());
	if (!_fst_db_check_bind(self, rc, what, error) ||
	    !_fst_db_step_done(self, stmt, what, error))
		return FALSE;
	return _fst_db_transaction_commit(&tx, what, error);
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
	g_autofree gchar *serial = NULL;
	g_autofree gchar *sha256 = NULL;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(data != NULL, FALSE);

	if (!fst_db_object_prepare(serial_hex, kind, data, contents, &serial, &sha256, error))
		return FALSE;
	return fst_db_add_object_prepared(
	    self, device_id, serial, kind, sha256, g_bytes_get_size(data), contents, error);
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

	if (!_fst_db_get_cert_locked(self, serial, &found, &cert_id, &cert_device, &from, error))
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
	if (!_fst_db_move_cert_locked(
	        self, cert_id, device_id, serial, from, to, NULL, NULL, error))
		return FALSE;
	if (!_fst_db_supersede_interrupted_locked(self, device_id, serial, error))
		return FALSE;
	if (!_fst_db_set_device_state_locked(
	        self, device_id, FST_DB_DEVICE_STATE_PROVISIONED, NULL, error))
		return FALSE;
	detail = g_strdup_printf("certificate %s", serial);
	return _fst_db_insert_event_locked(self,
	                                   device_id,
	                                   station_id,
	                                   "provisioned",
	                                   started_us,
	                                   g_get_real_time(),
	                                   "ok",
	                                   detail,
	                                   error);
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

	if (!_fst_db_get_active_cert_locked(self, device_id, &found, &serial, &slot, error))
		return FALSE;
	if (!found) {
		g_autofree gchar *uid = _fst_db_get_device_uid_locked(self, device_id);
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
	if (!_fst_db_set_device_state_locked(
	        self, device_id, FST_DB_DEVICE_STATE_PROVISIONED, NULL, error))
		return FALSE;
	detail = g_strdup_printf(
	    "no new certificate; certificate %s stays in service (slot %c)", serial, 'A' + slot);
	return _fst_db_insert_event_locked(self,
	                                   device_id,
	                                   station_id,
	                                   "provisioned",
	                                   started_us,
	                                   g_get_real_time(),
	                                   "ok",
	                                   detail,
	                                   error);
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
	g_autofree gchar *message = _fst_db_text_bounded(failure->message, FST_DB_MAX_DETAIL);
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
		if (!_fst_db_get_cert_locked(
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
	if (!_fst_db_set_device_state_locked(
	        self, device_id, FST_DB_DEVICE_STATE_FAILED, message, error))
		return FALSE;
	return _fst_db_insert_event_locked(self,
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
	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
	g_autofree gchar *serial = NULL;
	const gchar *what = "finish a device";
	gint64 station_id = 0;
	gint64 now = g_get_real_time();
	gboolean ok;

	g_return_val_if_fail(self != NULL, FALSE);

	if (serial_hex != NULL) {
		serial = _fst_db_normalize_hex(
		    "certificate serial", serial_hex, 1, FST_DB_MAX_SERIAL_HEX, TRUE, error);
		if (serial == NULL)
			return FALSE;
	}

	locker = g_rec_mutex_locker_new(&self->mutex);
	if (!_fst_db_transaction_begin(&tx, self, what, error))
		return FALSE;
	ok = _fst_db_require_device_locked(self, device_id, &station_id, error);
	if (ok && failure == NULL && serial == NULL)
		ok = fst_db_finish_job_locked(self, device_id, station_id, now, error);
	else if (ok && failure == NULL)
		ok = fst_db_finish_ok_locked(self, device_id, station_id, serial, now, error);
	else if (ok)
		ok = fst_db_finish_failed_locked(
		    self, device_id, station_id, serial, failure, now, error);
	if (!ok)
		return FALSE;
	return _fst_db_transaction_commit(&tx, what, error);
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
	/* an object checked and hashed when it was logged, in the lane */
	gchar *sha256;   /* (nullable): of data */
	gsize length;    /* of data */
	GError *invalid; /* (nullable) (owned): why the commit is to fail */
} FstDbLogOp;

static void
fst_db_log_op_free(gpointer data)
{
	FstDbLogOp *op = data;

	if (op == NULL)
		return;
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
	g_free(op->sha256);
	g_clear_error(&op->invalid);
	g_free(op);
}

struct _FstDbDeviceLog {
	gint64 station_id;
	FstDeviceInfo *info;   /* (owned): a copy, so the device may identify again */
	gchar *port;           /* (nullable) */
	gint64 device_id;      /* 0 until the first commit */
	GPtrArray *ops;        /* (element-type FstDbLogOp) (owned): not committed yet */
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

	if (!_fst_db_check_device_info(info, port, error))
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
	/* checked and bounded here, in the lane, not in the commit that all
	 * lanes share; a commit that fails keeps only good events */
	op->detail = detail != NULL ? _fst_db_text_bounded(detail, FST_DB_MAX_DETAIL) : NULL;
	(void)_fst_db_check_event(step, started_us, ended_us, outcome, &op->invalid);
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
	copy->register_remote_id = g_strdup(cert->register_remote_id);
	copy->register_done = cert->register_done;
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
	op->object = kind;
	op->length = g_bytes_get_size(data);
	op->contents = g_strdup(contents);
	/* checked and hashed here, in the lane, not in the commit that all
	 * lanes share; only the hash and the length are kept */
	fst_db_object_prepare(
	    serial_hex, kind, data, contents, &op->serial_hex, &op->sha256, &op->invalid);
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
		if (!_fst_db_supersede_locked(
		        db, device_id, sup->serial_hex, sup->other_hex, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
fst_db_device_log_apply(FstDb *db, gint64 device_id, FstDbLogOp *op, GError **error)
{
	switch (op->kind) {
	case FST_DB_LOG_EVENT:
		if (op->invalid != NULL) {
			g_propagate_error(error, g_error_copy(op->invalid));
			return FALSE;
		}
		return _fst_db_add_event_checked(db,
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
		if (op->invalid != NULL) {
			g_propagate_error(error, g_error_copy(op->invalid));
			return FALSE;
		}
		return fst_db_add_object_prepared(db,
		                                  device_id,
		                                  op->serial_hex,
		                                  op->object,
		                                  op->sha256,
		                                  op->length,
		                                  op->contents,
		                                  error);
	case FST_DB_LOG_STATE:
		return fst_db_set_certificate_state(db, op->serial_hex, op->state, error);
	case FST_DB_LOG_FINISH:
		return fst_db_finish_device(db, device_id, op->serial_hex, op->failure, error);
	case FST_DB_LOG_ESCROW: {
		gint64 station_id = 0;
		return _fst_db_require_device_locked(db, device_id, &station_id, error) &&
		       _fst_db_add_escrow_locked(db,
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

/* writes what @self logged, in the transaction (or savepoint) open on
 * @db; @device_id is the log's device, recorded here when it is 0; @last:
 * the last log of its transaction, whose event binds the rows of all */
static gboolean
fst_db_device_log_write_locked(FstDb *db,
                               FstDbDeviceLog *self,
                               GPtrArray *ops,
                               gint64 *device_id,
                               gboolean last,
                               GError **error)
{
	gboolean ok = TRUE;

	db->batch++;
	if (*device_id == 0) {
		*device_id =
		    fst_db_begin_device(db, self->station_id, self->info, self->port, error);
		ok = *device_id > 0;
	}
	/* the device's events of this commit become one event */
	if (ok)
		_fst_db_fold_begin(db, *device_id);
	/* escrows last, so that a certificate logged after its escrow is there */
	for (guint i = 0; ok && i < ops->len; i++) {
		FstDbLogOp *op = g_ptr_array_index(ops, i);
		if (op->kind == FST_DB_LOG_ESCROW)
			continue;
		ok = fst_db_device_log_apply(db, *device_id, op, error);
		if (ok && op->kind == FST_DB_LOG_FINISH)
			ok = fst_db_device_log_apply_supersedes(db, self, *device_id, error);
	}
	for (guint i = 0; ok && i < ops->len; i++) {
		FstDbLogOp *op = g_ptr_array_index(ops, i);
		if (op->kind == FST_DB_LOG_ESCROW)
			ok = fst_db_device_log_apply(db, *device_id, op, error);
	}
	if (ok)
		ok = _fst_db_fold_end(db, last, error);
	else
		_fst_db_fold_clear(db);
	db->batch--;
	if (!ok)
		g_prefix_error(error,
		               "recording device %s (nothing of this step was written): ",
		               self->info->uid);
	return ok;
}

/* one lane's commit in the queue of its database */
typedef struct {
	FstDbDeviceLog *log; /* (not owned) */
	GPtrArray *ops;      /* (owned) (element-type FstDbLogOp): taken from the log */
	gint64 device_id;    /* the log's device, or 0 until recorded */
	/* the lane sleeps on its own lock and condition, so that the lanes a
	 * group's end wakes do not all queue for the queue's lock */
	GMutex lock;
	GCond cond;            /* signalled when done, or when it is to lead the next group */
	gboolean done;         /* set under lock, once the leader is through */
	gboolean lead;         /* set under lock: the queue has no leader, lead it */
	gboolean failed_alone; /* refused in the group's transaction: not tried again */
	gboolean ok;
	GError *error; /* (owned) (nullable) */
} FstDbCommitRequest;

/* one log in a transaction of its own, as when it is alone */
static void
fst_db_device_log_commit_one_locked(FstDb *db, FstDbCommitRequest *req)
{
	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
	/* the lane's error names the device (fst_db_device_log_write_locked()) */
	const gchar *what = "record a device log";
	gint64 device_id = req->device_id;

	req->ok = FALSE;
	if (!_fst_db_transaction_begin(&tx, db, what, &req->error))
		return;
	if (!fst_db_device_log_write_locked(db, req->log, req->ops, &device_id, TRUE, &req->error))
		return;
	if (!_fst_db_transaction_commit(&tx, what, &req->error))
		return;
	req->device_id = device_id;
	req->ok = TRUE;
}

/* the write lock not to be had (another process holds it past the busy
 * timeout): every lane of the group gets that error, at once */
static gboolean
fst_db_device_log_group_begin(FstDb *db, FstDbTransaction *tx, GPtrArray *group, const gchar *what)
{
	g_autoptr(GError) error = NULL;

	if (_fst_db_transaction_begin(tx, db, what, &error))
		return TRUE;
	for (guint i = 0; i < group->len; i++) {
		FstDbCommitRequest *req = g_ptr_array_index(group, i);
		req->error = g_error_copy(error);
		g_prefix_error(&req->error,
		               "recording device %s (nothing of this step was written): ",
		               req->log->info->uid);
	}
	return FALSE;
}

/* moves the logs queued meanwhile into @group, whose leader writes them
 * with it; their lanes are woken with the group's */
static void
fst_db_device_log_group_take_queued(FstDb *db, GPtrArray *group)
{
	g_mutex_lock(&db->queue_lock);
	for (guint i = 0; i < db->queue->len; i++)
		g_ptr_array_add(group, g_ptr_array_index(db->queue, i));
	g_ptr_array_set_size(db->queue, 0);
	g_mutex_unlock(&db->queue_lock);
}

/* the logs of a group one after the other in the transaction @tx opened,
 * then its COMMIT: TRUE when every log was written and committed; else the
 * transaction is rolled back whole, nothing of it was written, and the
 * caller writes the group again with a savepoint per log (a log the
 * database refuses is rare: a savepoint per log costs two statements and
 * a copy of the transaction's memory per device) */
static gboolean
fst_db_device_log_write_group_locked(
    FstDb *db, FstDbTransaction *tx, GPtrArray *group, const gchar *what, guint *transactions)
{
	g_autoptr(GArray) device_ids = g_array_new(FALSE, TRUE, sizeof(gint64));

	for (guint i = 0; i < group->len; i++) {
		FstDbCommitRequest *req = g_ptr_array_index(group, i);
		g_autoptr(GError) error = NULL;
		gint64 device_id = req->device_id;

		/* logs queued while this group was being written join it before
		 * its last log: they share its sync instead of waiting for it */
		if (i + 1 == group->len)
			fst_db_device_log_group_take_queued(db, group);
		if (!fst_db_device_log_write_locked(
		        db, req->log, req->ops, &device_id, i + 1 == group->len, &error)) {
			g_debug("a log of a group was refused, writing the group again log by log: "
			        "%s",
			        error->message);
			_fst_db_transaction_clear(tx);
			return FALSE;
		}
		g_array_append_val(device_ids, device_id);
	}
	if (!_fst_db_transaction_commit(tx, what, NULL))
		return FALSE;
	(*transactions)++;
	for (guint i = 0; i < group->len; i++) {
		FstDbCommitRequest *req = g_ptr_array_index(group, i);
		req->device_id = g_array_index(device_ids, gint64, i);
		req->ok = TRUE;
	}
	return TRUE;
}

/*
 * Several logs in one transaction, so one WAL sync for all of them: written
 * one after the other, and in the rare group where the database refuses a
 * log, written again with each log inside a savepoint of its own: the one
 * refused (a constraint, invalid data) is rolled back alone, with what the
 * transaction remembers in memory, and the others stay in the group. The
 * events are appended to the chain log after log, and the rows of the whole
 * group are bound into its last event, as for any transaction. If the
 * transaction itself fails (SQLite ended it, the COMMIT failed), each log
 * is written again in a transaction of its own, so that every lane gets its
 * own result.
 */
static void
fst_db_device_log_commit_group_locked(FstDb *db, GPtrArray *group, guint *transactions)
{
	g_auto(FstDbTransaction) tx = FST_DB_TRANSACTION_INIT;
	g_autoptr(GError) error = NULL;
	g_autofree gint64 *device_ids = NULL;
	g_autofree gboolean *written = NULL;
	const gchar *what = "record device logs";
	guint n_written = 0;

	if (!fst_db_device_log_group_begin(db, &tx, group, what))
		return;
	if (fst_db_device_log_write_group_locked(db, &tx, group, what, transactions))
		return;
	/* a log was refused, or the COMMIT failed: nothing of the group was
	 * written. A log alone is written again as it is, for its own error;
	 * a group again with a savepoint per log */
	if (group->len == 1) {
		FstDbCommitRequest *req = g_ptr_array_index(group, 0);
		fst_db_device_log_commit_one_locked(db, req);
		if (req->ok)
			(*transactions)++;
		return;
	}
	device_ids = g_new0(gint64, group->len);
	written = g_new0(gboolean, group->len);
	if (!fst_db_device_log_group_begin(db, &tx, group, what))
		return;
	for (guint i = 0; i < group->len; i++) {
		FstDbCommitRequest *req = g_ptr_array_index(group, i);
		FstDbTxMark mark = {0};
		gboolean ok;

		device_ids[i] = req->device_id;
		_fst_db_tx_mark(db, &mark);
		if (!_fst_db_exec_cached(db, "SAVEPOINT device_log", what, &error)) {
			_fst_db_tx_mark_clear(&mark);
			goto one_by_one;
		}
		ok = fst_db_device_log_write_locked(
		    db, req->log, req->ops, &device_ids[i], i + 1 == group->len, &req->error);
		/* an I/O error, a full disk or a lost lock ends the transaction */
		if (sqlite3_get_autocommit(db->db)) {
			_fst_db_tx_mark_clear(&mark);
			goto one_by_one;
		}
		if (ok) {
			ok = _fst_db_exec_cached(db, "RELEASE device_log", what, &error);
			if (!ok) {
				_fst_db_tx_mark_clear(&mark);
				goto one_by_one;
			}
			written[i] = TRUE;
			n_written++;
		} else {
			if (!_fst_db_exec_cached(db, "ROLLBACK TO device_log", what, &error) ||
			    !_fst_db_exec_cached(db, "RELEASE device_log", what, &error)) {
				_fst_db_tx_mark_clear(&mark);
				goto one_by_one;
			}
			_fst_db_tx_restore(db, &mark);
			req->failed_alone = TRUE;
		}
		_fst_db_tx_mark_clear(&mark);
	}
	if (!_fst_db_transaction_commit(&tx, what, &error))
		goto one_by_one;
	if (n_written > 0)
		(*transactions)++;
	for (guint i = 0; i < group->len; i++) {
		FstDbCommitRequest *req = g_ptr_array_index(group, i);
		if (!written[i])
			continue;
		req->device_id = device_ids[i];
		req->ok = TRUE;
	}
	return;

one_by_one:
	/* the group's transaction is gone (rolled back): nothing of it was
	 * written, so each log that did not fail on its own is tried alone */
	_fst_db_transaction_clear(&tx);
	g_debug("writing %u device logs together failed, writing them one by one: %s",
	        group->len,
	        error != NULL ? error->message : "the transaction ended");
	for (guint i = 0; i < group->len; i++) {
		FstDbCommitRequest *req = g_ptr_array_index(group, i);
		if (req->failed_alone)
			continue;
		g_clear_error(&req->error);
		fst_db_device_log_commit_one_locked(db, req);
		if (req->ok)
			(*transactions)++;
	}
}

/* wakes the lane of @req for what was set under its lock */
static void
fst_db_commit_request_wake(FstDbCommitRequest *req, gboolean done)
{
	g_mutex_lock(&req->lock);
	if (done)
		req->done = TRUE;
	else
		req->lead = TRUE;
	g_cond_signal(&req->cond);
	g_mutex_unlock(&req->lock);
}

/*
 * The lane of @own leads: it takes every request queued (its own included)
 * and writes them as one group; then it wakes the lanes of its group and
 * hands the queue to the first lane queued meanwhile. Called with the
 * queue's lock held, which it lets go while the group is written; returns
 * without it.
 */
static void
fst_db_device_log_lead(FstDb *db, FstDbCommitRequest *own)
{
	g_autoptr(GPtrArray) group = g_steal_pointer(&db->queue);
	guint transactions = 0;
	guint64 logs = 0;

	db->queue = g_ptr_array_new();
	db->queue_leader = TRUE;
	g_mutex_unlock(&db->queue_lock);
	{
		g_autoptr(GRecMutexLocker) locker = g_rec_mutex_locker_new(&db->mutex);
		fst_db_device_log_commit_group_locked(db, group, &transactions);
	}
	/* the lanes of the group first, while this lane still leads: those
	 * that come back before it lets go queue for the next group */
	for (guint i = 0; i < group->len; i++) {
		FstDbCommitRequest *r = g_ptr_array_index(group, i);
		if (r->ok)
			logs++;
		/* a lane returns once it saw done under its own lock: each
		 * request is touched for the last time here */
		if (r != own)
			fst_db_commit_request_wake(r, TRUE);
	}
	own->done = TRUE;
	g_mutex_lock(&db->queue_lock);
	db->group_logs += logs;
	db->group_transactions += transactions;
	db->queue_leader = FALSE;
	/* the first lane queued meanwhile leads the next group (still queued,
	 * so still waiting: woken under the queue's lock); the others sleep on
	 * until their own group is through */
	if (db->queue->len > 0)
		fst_db_commit_request_wake(g_ptr_array_index(db->queue, 0), FALSE);
	g_mutex_unlock(&db->queue_lock);
}

/* the good events of @ops, a commit that failed, put back at the head of
 * the log, in their order, before anything logged since */
static void
fst_db_device_log_keep_events(FstDbDeviceLog *self, GPtrArray *ops)
{
	guint kept = 0;

	for (guint i = 0; i < ops->len; i++) {
		FstDbLogOp *op = g_ptr_array_index(ops, i);
		if (op->kind != FST_DB_LOG_EVENT || op->invalid != NULL)
			continue;
		g_ptr_array_insert(self->ops, (gint)kept++, op);
		ops->pdata[i] = NULL;
	}
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
 * Lanes (threads) that commit while another commit of @db is being written
 * share the next transaction (group commit): the first of them writes the
 * logs of all, and those queued while it writes, with one sync, and every
 * lane returns once that transaction is on disk, with its own result: a log
 * the database refuses fails alone and the others are written. A lane alone
 * writes at once and waits for nobody.
 *
 * On failure nothing of the log was written (its records are rolled back as
 * a whole), and a device that was not recorded yet is still not. The log is
 * emptied, except that a failed commit that did not finish the device keeps
 * its events for the next commit: the commit that records the failure then
 * holds the steps the station saw (a certificate refused at the first
 * commit, say, after identify, plan, keygen and issue), and the records
 * (certificate, objects, escrow, states) are dropped.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_db_device_log_commit(FstDb *db, FstDbDeviceLog *self, GError **error)
{
	FstDbCommitRequest req = {0};
	gboolean finished = FALSE;

	g_return_val_if_fail(db != NULL, FALSE);
	g_return_val_if_fail(self != NULL, FALSE);

	req.log = self;
	req.ops = g_steal_pointer(&self->ops);
	req.device_id = self->device_id;
	self->ops = g_ptr_array_new_with_free_func(fst_db_log_op_free);
	if (req.ops->len == 0 && req.device_id > 0) {
		g_ptr_array_unref(req.ops);
		return TRUE;
	}
	for (guint i = 0; i < req.ops->len; i++) {
		FstDbLogOp *op = g_ptr_array_index(req.ops, i);
		if (op->kind == FST_DB_LOG_FINISH)
			finished = TRUE;
	}

	/* the commit queue: the first lane to find no leader takes every
	 * request queued (its own included) and writes them; the others wait
	 * for their result, and one of them leads the next group. Lock order:
	 * the queue's lock, then a request's */
	g_mutex_init(&req.lock);
	g_cond_init(&req.cond);
	g_mutex_lock(&db->queue_lock);
	g_ptr_array_add(db->queue, &req);
	for (;;) {
		gboolean done;

		if (!db->queue_leader && g_ptr_array_find(db->queue, &req, NULL)) {
			fst_db_device_log_lead(db, &req);
			break;
		}
		g_mutex_unlock(&db->queue_lock);
		g_mutex_lock(&req.lock);
		while (!req.done && !req.lead)
			g_cond_wait(&req.cond, &req.lock);
		done = req.done;
		req.lead = FALSE;
		g_mutex_unlock(&req.lock);
		if (done)
			break;
		g_mutex_lock(&db->queue_lock);
	}
	g_cond_clear(&req.cond);
	g_mutex_clear(&req.lock);

	if (!req.ok && !finished)
		fst_db_device_log_keep_events(self, req.ops);
	g_ptr_array_unref(req.ops);
	/* the attempt ended: what it superseded is written with it, or dropped */
	if (finished)
		g_ptr_array_set_size(self->supersedes, 0);
	if (!req.ok) {
		if (req.error != NULL)
			g_propagate_error(error, req.error);
		else
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INTERNAL,
			            "recording device %s failed without a reason",
			            self->info->uid);
		return FALSE;
	}
	self->device_id = req.device_id;
	return TRUE;
}

/**
 * fst_db_get_commit_stats:
 * @self: an #FstDb
 * @transactions: (out) (optional): durable transactions that wrote device
 *   logs since @self was opened (one WAL sync each)
 * @logs: (out) (optional): device log commits written in them
 * @waiting: (out) (optional): lanes waiting now in fst_db_device_log_commit()
 *   for the group being written to end
 *
 * What group commit did: with lanes committing together, fewer transactions
 * than logs. It does not wait for a commit under way.
 */
void
fst_db_get_commit_stats(FstDb *self, guint64 *transactions, guint64 *logs, guint *waiting)
{
	g_return_if_fail(self != NULL);

	g_mutex_lock(&self->queue_lock);
	if (transactions != NULL)
		*transactions = self->group_transactions;
	if (logs != NULL)
		*logs = self->group_logs;
	if (waiting != NULL)
		*waiting = self->queue->len;
	g_mutex_unlock(&self->queue_lock);
}
