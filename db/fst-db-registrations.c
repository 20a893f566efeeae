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
 * The station database (db/schema.md): the cloud registration queue.
 */

static const gchar *const fst_db_registration_actions[] = {
    "register", "deactivate", "revoke", NULL};
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
 * @action: (nullable): "register", "deactivate" or "revoke", or %NULL for all
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
	stmt = _fst_db_prepare(
	    self,
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
	if (!_fst_db_check_bind(self, rc, what, error))
		return NULL;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstDbRegistration *reg = g_new0(FstDbRegistration, 1);
		reg->id = sqlite3_column_int64(stmt, 0);
		reg->serial_hex = _fst_db_column_strdup(stmt, 1);
		reg->aws_cert_id = _fst_db_column_strdup(stmt, 2);
		reg->target = _fst_db_column_strdup(stmt, 3);
		reg->action = _fst_db_column_strdup(stmt, 4);
		reg->state = _fst_db_column_strdup(stmt, 5);
		reg->attempts = sqlite3_column_int(stmt, 6);
		reg->created_at = sqlite3_column_int64(stmt, 7);
		g_ptr_array_add(rows, reg);
	}
	if (rc != SQLITE_DONE) {
		_fst_db_set_error(self, error, rc, "trying to %s", what);
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

	issuer = _fst_db_normalize_hex(
	    "issuer SHA-256", issuer_sha256, FST_DB_SHA256_HEX, FST_DB_SHA256_HEX, FALSE, error);
	if (issuer == NULL)
		return NULL;
	locker = g_rec_mutex_locker_new(&self->mutex);
	stmt = _fst_db_prepare(self,
	                       "SELECT r.action, r.state, count(*) FROM registrations r "
	                       "JOIN certificates c ON c.id = r.certificate_id JOIN cas a ON "
	                       "a.id = c.ca_id WHERE a.sha256 = ?1 GROUP BY r.action, r.state "
	                       "ORDER BY r.action DESC, r.state",
	                       what,
	                       error);
	if (stmt == NULL)
		return NULL;
	if (!_fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, issuer, -1, SQLITE_TRANSIENT), what, error))
		return NULL;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstDbRegistrationCount *count = g_new0(FstDbRegistrationCount, 1);
		count->action = _fst_db_column_strdup(stmt, 0);
		count->state = _fst_db_column_strdup(stmt, 1);
		count->count = sqlite3_column_int64(stmt, 2);
		g_ptr_array_add(counts, count);
	}
	if (rc != SQLITE_DONE) {
		_fst_db_set_error(self, error, rc, "trying to %s", what);
		return NULL;
	}
	return g_steal_pointer(&counts);
}

/**
 * fst_db_foreach_aws_record:
 * @self: an #FstDb
 * @target: a cloud target, e.g. "aws-iot:eu-west-1" (fst_aws_iot_target())
 * @func: called with each certificate, oldest first; it returns %FALSE to
 *   stop
 * @user_data: data for @func
 * @error: (nullable): return location for a #GError
 *
 * Goes through every certificate with what its registration rows at
 * @target say (the reconciliation with AWS IoT, fst_aws_reconcile()), one
 * row at a time: a million certificates are never all in memory here.
 * @func runs with the database's lock held: it must not call the database.
 *
 * Returns: %TRUE once every certificate was given (or @func stopped)
 */
gboolean
fst_db_foreach_aws_record(
    FstDb *self, const gchar *target, FstDbAwsRecordFunc func, gpointer user_data, GError **error)
{
	g_autoptr(GRecMutexLocker) locker = NULL;
	g_autoptr(FstDbStmt) stmt = NULL;
	const gchar *what = "read the certificates and their registrations";
	gint rc;

	g_return_val_if_fail(self != NULL, FALSE);
	g_return_val_if_fail(target != NULL, FALSE);
	g_return_val_if_fail(func != NULL, FALSE);

	locker = g_rec_mutex_locker_new(&self->mutex);
	/* each row by the (certificate_id, target, action) unique index */
	stmt = _fst_db_prepare(
	    self,
	    "SELECT c.aws_cert_id, c.serial_hex, d.uid, c.state, a.sha256,"
	    " (SELECT r.state FROM registrations r WHERE r.certificate_id = c.id AND"
	    "  r.target = ?1 AND r.action = 'register'),"
	    " (SELECT r.state FROM registrations r WHERE r.certificate_id = c.id AND"
	    "  r.target IN (?1, '*') AND r.action = 'deactivate' ORDER BY r.id DESC LIMIT 1),"
	    " (SELECT r.state FROM registrations r WHERE r.certificate_id = c.id AND"
	    "  r.target IN (?1, '*') AND r.action = 'revoke' ORDER BY r.id DESC LIMIT 1)"
	    " FROM certificates c JOIN devices d ON d.id = c.device_id"
	    " LEFT JOIN cas a ON a.id = c.ca_id ORDER BY c.id",
	    what,
	    error);
	if (stmt == NULL)
		return FALSE;
	if (!_fst_db_check_bind(
	        self, sqlite3_bind_text(stmt, 1, target, -1, SQLITE_TRANSIENT), what, error))
		return FALSE;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstDbAwsRecord record = {
		    .aws_cert_id = (const gchar *)sqlite3_column_text(stmt, 0),
		    .serial_hex = (const gchar *)sqlite3_column_text(stmt, 1),
		    .device_uid = (const gchar *)sqlite3_column_text(stmt, 2),
		    .state = (const gchar *)sqlite3_column_text(stmt, 3),
		    .issuer_sha256 = (const gchar *)sqlite3_column_text(stmt, 4),
		    .registered = (const gchar *)sqlite3_column_text(stmt, 5),
		    .deactivated = (const gchar *)sqlite3_column_text(stmt, 6),
		    .revoked = (const gchar *)sqlite3_column_text(stmt, 7),
		};
		if (!func(&record, user_data))
			return TRUE;
	}
	if (rc != SQLITE_DONE) {
		_fst_db_set_error(self, error, rc, "trying to %s", what);
		return FALSE;
	}
	return TRUE;
}

/* a `register` row for a certificate just recorded (FstDbCert.register_target),
 * in the caller's transaction, with the id the target knows it by when it
 * has it already (@remote_id), `done` when nothing more is to be done there;
 * the queue itself is worked by fst-db-queue.c */
gboolean
_fst_db_queue_registration_locked(FstDb *self,
                                  gint64 cert_id,
                                  const gchar *target,
                                  const gchar *remote_id,
                                  gboolean done,
                                  gint64 now,
                                  GError **error)
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
	stmt =
	    _fst_db_prepare(self,
	                    "INSERT OR IGNORE INTO registrations (certificate_id, target, action, "
	                    "state, attempts, remote_id, created_at, updated_at) VALUES (?1, ?2, "
	                    "'register', ?5, 0, ?4, ?3, ?3)",
	                    what,
	                    error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, cert_id);
	rc |= sqlite3_bind_text(stmt, 2, target, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_int64(stmt, 3, now);
	rc |= sqlite3_bind_text(stmt, 4, remote_id, -1, SQLITE_TRANSIENT);
	rc |= sqlite3_bind_text(stmt, 5, done ? "done" : "pending", -1, SQLITE_STATIC);
	if (!_fst_db_check_bind(self, rc, what, error))
		return FALSE;
	return _fst_db_step_done(self, stmt, what, error);
}
