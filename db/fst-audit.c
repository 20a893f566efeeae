#define G_LOG_DOMAIN "FstAudit"

#include "fst-audit.h"

#include <sqlite3.h>
#include <string.h>

#include "fst-crypto.h"
#include "fst-error.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3, sqlite3_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)

/*
 * The audit chain over the `events` table (db/schema.md, "Audit chain").
 * Every event row stores hash (a 32-byte BLOB) = SHA-256 of the canonical
 * text below, which includes the hash of the row before it (64 zeros for the
 * first), and db_properties `audit-head` holds "<id> <hex hash>" of the last
 * row. Ids are consecutive from 1, so a deleted row leaves a gap. Certificate
 * rows are tied in through their `certificate-issued` event ("certificate
 * <serial> sha256 <hex>", plus " as <state> (...)" for a certificate recorded
 * before the chain existed) and `certificate-state` events ("certificate
 * <serial>: <from> -> <to>[ (reason: ...)][ (by <serial>)]"); key escrows
 * (schema v4) through their `escrow` event ("certificate <serial>: key
 * escrowed to <recipient sha256> (cms sha256 <hex>, <n> bytes)").
 *
 * Canonical text (UTF-8, every line ends with \n; <n> is a decimal integer,
 * 0 for NULL ids; <len> is the byte length of the text that follows one space):
 *
 *   fst-audit-event-v1
 *   prev <64 hex>
 *   id <n>
 *   device <n>
 *   station <n>
 *   operator <n>
 *   lot <n>
 *   step <len> <text>
 *   started <n>
 *   ended <n>
 *   outcome <len> <text>
 *   detail <len> <text>      ("detail -" when NULL)
 *
 * The lengths make the encoding unambiguous whatever a detail holds
 * (newlines, text that looks like the next field).
 */

static void
fst_audit_add_text(GChecksum *sum, const gchar *name, const gchar *text)
{
	g_autofree gchar *line = NULL;

	if (text == NULL) {
		line = g_strdup_printf("%s -\n", name);
		g_checksum_update(sum, (const guchar *)line, -1);
		return;
	}
	line = g_strdup_printf("%s %" G_GSIZE_FORMAT " ", name, strlen(text));
	g_checksum_update(sum, (const guchar *)line, -1);
	g_checksum_update(sum, (const guchar *)text, -1);
	g_checksum_update(sum, (const guchar *)"\n", 1);
}

static void
fst_audit_add_int(GChecksum *sum, const gchar *name, gint64 value)
{
	g_autofree gchar *line = g_strdup_printf("%s %" G_GINT64_FORMAT "\n", name, value);
	g_checksum_update(sum, (const guchar *)line, -1);
}

/**
 * fst_audit_event_hash:
 * @prev_hash: the hash of the previous event, or %FST_AUDIT_GENESIS
 * @row: the event's columns
 *
 * Returns: (transfer full): the lower-case hex SHA-256 of the canonical text
 * of @row chained to @prev_hash (see the top of this file)
 */
gchar *
fst_audit_event_hash(const gchar *prev_hash, const FstAuditEventRow *row)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree gchar *prev = g_strdup_printf("fst-audit-event-v1\nprev %s\n", prev_hash);

	g_checksum_update(sum, (const guchar *)prev, -1);
	fst_audit_add_int(sum, "id", row->id);
	fst_audit_add_int(sum, "device", row->device_id);
	fst_audit_add_int(sum, "station", row->station_id);
	fst_audit_add_int(sum, "operator", row->operator_id);
	fst_audit_add_int(sum, "lot", row->lot_id);
	fst_audit_add_text(sum, "step", row->step != NULL ? row->step : "");
	fst_audit_add_int(sum, "started", row->started_at);
	fst_audit_add_int(sum, "ended", row->ended_at);
	fst_audit_add_text(sum, "outcome", row->outcome != NULL ? row->outcome : "");
	fst_audit_add_text(sum, "detail", row->detail);
	return g_strdup(g_checksum_get_string(sum));
}

/**
 * fst_audit_hash_to_bytes:
 * @hex: 64 hex digits, from fst_audit_event_hash()
 * @out: (out caller-allocates): the 32 bytes
 */
void
fst_audit_hash_to_bytes(const gchar *hex, guint8 out[FST_AUDIT_HASH_LEN])
{
	for (guint i = 0; i < FST_AUDIT_HASH_LEN; i++)
		out[i] = (guint8)((g_ascii_xdigit_value(hex[2 * i]) << 4) |
		                  g_ascii_xdigit_value(hex[2 * i + 1]));
}

/**
 * fst_audit_hash_from_bytes:
 * @data: (nullable): a stored hash
 * @len: its length
 *
 * Returns: (transfer full) (nullable): lower-case hex, or %NULL unless @data
 * is 32 bytes
 */
gchar *
fst_audit_hash_from_bytes(gconstpointer data, gsize len)
{
	if (data == NULL || len != FST_AUDIT_HASH_LEN)
		return NULL;
	return fst_crypto_hex(data, len, FALSE);
}

/**
 * fst_audit_result_free:
 * @self: (nullable): an #FstAuditResult
 */
void
fst_audit_result_free(FstAuditResult *self)
{
	if (self == NULL)
		return;
	g_free(self->problem);
	g_free(self->head_hash);
	g_free(self);
}

/* what the chain says about one certificate */
typedef struct {
	gchar *aws_cert_id;
	gint64 device_id;
	gint64 event_id;
	gchar *state; /* the last state the chain moved it to */
	gint64 escrow_event_id; /* 0 when the chain recorded no escrow */
	gchar *escrow_recipient;
	gchar *escrow_sha256; /* of the CMS */
	gboolean escrow_seen; /* its key_escrows row was checked */
} FstAuditCert;

static void
fst_audit_cert_free(FstAuditCert *self)
{
	g_free(self->aws_cert_id);
	g_free(self->state);
	g_free(self->escrow_recipient);
	g_free(self->escrow_sha256);
	g_free(self);
}

static gboolean G_GNUC_PRINTF(3, 4)
    fst_audit_fail(FstAuditResult *result, gint64 id, const gchar *format, ...)
{
	va_list args;

	if (!result->ok)
		return FALSE;
	result->ok = FALSE;
	result->first_bad_id = id;
	va_start(args, format);
	result->problem = g_strdup_vprintf(format, args);
	va_end(args);
	return FALSE;
}

static gboolean
fst_audit_sql_error(sqlite3 *db, const gchar *path, const gchar *what, GError **error)
{
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_DATABASE,
	            "%s in %s: %s: check the path, or run `fleetstation db check`",
	            what,
	            path,
	            sqlite3_errmsg(db));
	return FALSE;
}

/* remembers what a certificate-issued or certificate-state event says */
static void
fst_audit_note_cert_event(GHashTable *certs,
                          FstAuditResult *result,
                          gint64 id,
                          gint64 device_id,
                          const gchar *step,
                          const gchar *detail)
{
	g_auto(GStrv) words = NULL;

	if (detail == NULL || !g_str_has_prefix(detail, "certificate "))
		return;
	words = g_strsplit(detail, " ", 8);
	if (g_strcmp0(step, "certificate-issued") == 0) {
		FstAuditCert *cert;
		if (g_strv_length(words) < 4 || g_strcmp0(words[2], "sha256") != 0)
			return;
		if (g_hash_table_contains(certs, words[1])) {
			fst_audit_fail(result,
			               id,
			               "event %" G_GINT64_FORMAT " issues certificate %s a second "
			               "time",
			               id,
			               words[1]);
			return;
		}
		cert = g_new0(FstAuditCert, 1);
		cert->aws_cert_id = g_strdup(words[3]);
		cert->device_id = device_id;
		cert->event_id = id;
		/* a certificate older than the chain says its state then */
		cert->state = g_strdup(g_strv_length(words) >= 6 && g_strcmp0(words[4], "as") == 0
		                           ? words[5]
		                           : "issued");
		g_hash_table_insert(certs, g_strdup(words[1]), cert);
	} else if (g_strcmp0(step, "escrow") == 0) {
		/* "certificate S: key escrowed to R (cms sha256 H, N bytes)" */
		g_auto(GStrv) all = g_strsplit(detail, " ", 0);
		g_autofree gchar *serial = NULL;
		FstAuditCert *cert;
		if (g_strv_length(all) < 9 || g_strcmp0(all[4], "to") != 0 ||
		    g_strcmp0(all[6], "(cms") != 0 || !g_str_has_suffix(all[1], ":") ||
		    !g_str_has_suffix(all[8], ","))
			return;
		serial = g_strndup(all[1], strlen(all[1]) - 1);
		cert = g_hash_table_lookup(certs, serial);
		if (cert == NULL)
			return; /* an escrow of an unchained certificate: caught below */
		cert->escrow_event_id = id;
		g_free(cert->escrow_recipient);
		cert->escrow_recipient = g_strdup(all[5]);
		g_free(cert->escrow_sha256);
		cert->escrow_sha256 = g_strndup(all[8], strlen(all[8]) - 1);
	} else if (g_strcmp0(step, "certificate-state") == 0) {
		/* "certificate S: from -> to[ (reason...)]" */
		g_autofree gchar *serial = NULL;
		FstAuditCert *cert;
		if (g_strv_length(words) < 5 || g_strcmp0(words[3], "->") != 0 ||
		    !g_str_has_suffix(words[1], ":"))
			return;
		serial = g_strndup(words[1], strlen(words[1]) - 1);
		cert = g_hash_table_lookup(certs, serial);
		if (cert == NULL)
			return; /* a move of an unchained certificate: caught below */
		g_free(cert->state);
		cert->state = g_strdup(words[4]);
	}
}

static gboolean
fst_audit_walk_events(sqlite3 *db,
                      const gchar *path,
                      gint64 head_id,
                      FstAuditResult *result,
                      GHashTable *certs,
                      GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *prev = g_strdup(FST_AUDIT_GENESIS);
	gint64 prev_id = 0;
	gint rc;

	if (sqlite3_prepare_v2(db,
	                       "SELECT id, device_id, station_id, operator_id, lot_id, step, "
	                       "started_at, ended_at, outcome, detail, hash FROM events "
	                       "ORDER BY id",
	                       -1,
	                       &stmt,
	                       NULL) != SQLITE_OK)
		return fst_audit_sql_error(db, path, "reading the events", error);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		FstAuditEventRow row = {
		    .id = sqlite3_column_int64(stmt, 0),
		    .device_id = sqlite3_column_int64(stmt, 1),
		    .station_id = sqlite3_column_int64(stmt, 2),
		    .operator_id = sqlite3_column_int64(stmt, 3),
		    .lot_id = sqlite3_column_int64(stmt, 4),
		    .step = (const gchar *)sqlite3_column_text(stmt, 5),
		    .started_at = sqlite3_column_int64(stmt, 6),
		    .ended_at = sqlite3_column_int64(stmt, 7),
		    .outcome = (const gchar *)sqlite3_column_text(stmt, 8),
		    .detail = (const gchar *)sqlite3_column_text(stmt, 9),
		};
		g_autofree gchar *stored = fst_audit_hash_from_bytes(
		    sqlite3_column_blob(stmt, 10), (gsize)sqlite3_column_bytes(stmt, 10));
		g_autofree gchar *expected = NULL;

		result->events++;
		if (head_id >= 0 && row.id > head_id) {
			return fst_audit_fail(result,
			                      row.id,
			                      "event %" G_GINT64_FORMAT " was inserted outside "
			                      "fleetstation (the chain head is event %" G_GINT64_FORMAT
			                      ")",
			                      row.id,
			                      head_id);
		}
		if (row.id != prev_id + 1 && row.id == prev_id + 2) {
			return fst_audit_fail(result,
			                      prev_id + 1,
			                      "event %" G_GINT64_FORMAT " was deleted (the chain jumps "
			                      "from event %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT ")",
			                      prev_id + 1,
			                      prev_id,
			                      row.id);
		}
		if (row.id != prev_id + 1) {
			return fst_audit_fail(result,
			                      prev_id + 1,
			                      "events %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
			                      " were deleted (the chain jumps from event %" G_GINT64_FORMAT
			                      " to %" G_GINT64_FORMAT ")",
			                      prev_id + 1,
			                      row.id - 1,
			                      prev_id,
			                      row.id);
		}
		if (stored == NULL) {
			return fst_audit_fail(result,
			                      row.id,
			                      "event %" G_GINT64_FORMAT " has no chain hash: it was "
			                      "inserted outside fleetstation",
			                      row.id);
		}
		expected = fst_audit_event_hash(prev, &row);
		if (g_strcmp0(expected, stored) != 0) {
			return fst_audit_fail(result,
			                      row.id,
			                      "event %" G_GINT64_FORMAT " was changed: its content no "
			                      "longer matches its hash",
			                      row.id);
		}
		fst_audit_note_cert_event(
		    certs, result, row.id, row.device_id, row.step, row.detail);
		if (!result->ok)
			return FALSE;
		g_free(prev);
		prev = g_strdup(stored);
		prev_id = row.id;
	}
	if (rc != SQLITE_DONE)
		return fst_audit_sql_error(db, path, "reading the events", error);
	result->head_id = prev_id;
	result->head_hash = prev_id > 0 ? g_steal_pointer(&prev) : NULL;
	return TRUE;
}

/* db_properties audit-head: "<id> <hash>" of the last event; id -1 when absent */
static gboolean
fst_audit_read_head(
    sqlite3 *db, const gchar *path, gint64 *head_id, gchar **head_hash, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	gint rc;

	*head_id = -1;
	if (sqlite3_prepare_v2(db,
	                       "SELECT value FROM db_properties WHERE key = 'audit-head'",
	                       -1,
	                       &stmt,
	                       NULL) != SQLITE_OK)
		return fst_audit_sql_error(db, path, "reading the audit head", error);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0) != NULL) {
		g_auto(GStrv) words =
		    g_strsplit((const gchar *)sqlite3_column_text(stmt, 0), " ", 2);
		*head_id = MAX(g_ascii_strtoll(words[0], NULL, 10), 0);
		*head_hash = g_strdup(words[1]);
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return fst_audit_sql_error(db, path, "reading the audit head", error);
	}
	return TRUE;
}

/* the end of the walk against the head */
static gboolean
fst_audit_check_head(FstAuditResult *result, gint64 head_id, const gchar *head_hash)
{
	if (head_id < 0) {
		if (result->head_id == 0)
			return TRUE;
		return fst_audit_fail(result,
		                      0,
		                      "the audit head (db_properties audit-head) was deleted");
	}
	if (head_id == result->head_id + 1) {
		return fst_audit_fail(result,
		                      head_id,
		                      "event %" G_GINT64_FORMAT " was deleted (the chain head says "
		                      "%" G_GINT64_FORMAT ")",
		                      head_id,
		                      head_id);
	}
	if (head_id > result->head_id) {
		return fst_audit_fail(result,
		                      result->head_id + 1,
		                      "events %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
		                      " were deleted (the chain head says %" G_GINT64_FORMAT ")",
		                      result->head_id + 1,
		                      head_id,
		                      head_id);
	}
	if (g_strcmp0(head_hash, result->head_hash) != 0) {
		return fst_audit_fail(result,
		                      head_id,
		                      "event %" G_GINT64_FORMAT " was replaced: it does not match "
		                      "the chain head",
		                      head_id);
	}
	return TRUE;
}

/* every key escrow row (schema v4) against its `escrow` event */
static gboolean
fst_audit_check_escrows(
    sqlite3 *db, const gchar *path, FstAuditResult *result, GHashTable *certs, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	GHashTableIter iter;
	gpointer key, value;
	gint rc;

	if (sqlite3_prepare_v2(db,
	                       "SELECT c.serial_hex, e.recipient_sha256, e.cms FROM key_escrows e "
	                       "JOIN certificates c ON c.id = e.certificate_id ORDER BY e.id",
	                       -1,
	                       &stmt,
	                       NULL) != SQLITE_OK)
		return fst_audit_sql_error(db, path, "reading the key escrows", error);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const gchar *serial = (const gchar *)sqlite3_column_text(stmt, 0);
		const gchar *recipient = (const gchar *)sqlite3_column_text(stmt, 1);
		gconstpointer cms = sqlite3_column_blob(stmt, 2);
		gsize cms_len = (gsize)sqlite3_column_bytes(stmt, 2);
		g_autofree gchar *sha = NULL;
		FstAuditCert *cert;

		if (serial == NULL)
			serial = "(null)";
		cert = g_hash_table_lookup(certs, serial);
		if (cert == NULL || cert->escrow_event_id == 0) {
			return fst_audit_fail(
			    result,
			    0,
			    "the key escrow of certificate %s is not in the audit "
			    "chain: it was inserted outside fleetstation",
			    serial);
		}
		sha =
		    g_compute_checksum_for_data(G_CHECKSUM_SHA256, cms != NULL ? cms : "", cms_len);
		if (g_strcmp0(sha, cert->escrow_sha256) != 0 ||
		    g_strcmp0(recipient, cert->escrow_recipient) != 0) {
			return fst_audit_fail(
			    result,
			    cert->escrow_event_id,
			    "the key escrow of certificate %s was changed: its CMS "
			    "or recipient is not what event %" G_GINT64_FORMAT " recorded",
			    serial,
			    cert->escrow_event_id);
		}
		cert->escrow_seen = TRUE;
	}
	if (rc != SQLITE_DONE)
		return fst_audit_sql_error(db, path, "reading the key escrows", error);
	g_hash_table_iter_init(&iter, certs);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		FstAuditCert *cert = value;
		if (cert->escrow_event_id == 0 || cert->escrow_seen)
			continue;
		return fst_audit_fail(result,
		                      cert->escrow_event_id,
		                      "the key escrow of certificate %s was deleted (event "
		                      "%" G_GINT64_FORMAT " recorded it)",
		                      (const gchar *)key,
		                      cert->escrow_event_id);
	}
	return TRUE;
}

/* every certificate row against what the chain says about it */
static gboolean
fst_audit_check_certificates(sqlite3 *db,
                             const gchar *path,
                             FstAuditResult *result,
                             GHashTable *certs,
                             GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	GHashTableIter iter;
	gpointer key, value;
	gint rc;

	if (sqlite3_prepare_v2(db,
	                       "SELECT serial_hex, aws_cert_id, der, device_id, state FROM "
	                       "certificates ORDER BY id",
	                       -1,
	                       &stmt,
	                       NULL) != SQLITE_OK)
		return fst_audit_sql_error(db, path, "reading the certificates", error);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const gchar *serial = (const gchar *)sqlite3_column_text(stmt, 0);
		const gchar *aws = (const gchar *)sqlite3_column_text(stmt, 1);
		gconstpointer der = sqlite3_column_blob(stmt, 2);
		gsize der_len = (gsize)sqlite3_column_bytes(stmt, 2);
		const gchar *state = (const gchar *)sqlite3_column_text(stmt, 4);
		g_autofree gchar *sha = NULL;
		FstAuditCert *cert;

		result->certificates++;
		if (serial == NULL)
			serial = "(null)";
		sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, der != NULL ? der : "", der_len);
		cert = g_hash_table_lookup(certs, serial);
		if (cert == NULL) {
			return fst_audit_fail(result,
			                      0,
			                      "certificate %s is not in the audit chain: it was "
			                      "inserted, or its serial changed, outside fleetstation",
			                      serial);
		}
		if (g_strcmp0(sha, aws) != 0 || g_strcmp0(aws, cert->aws_cert_id) != 0) {
			return fst_audit_fail(result,
			                      cert->event_id,
			                      "certificate %s was changed: its DER or SHA-256 is not "
			                      "what event %" G_GINT64_FORMAT " recorded",
			                      serial,
			                      cert->event_id);
		}
		if (sqlite3_column_int64(stmt, 3) != cert->device_id) {
			return fst_audit_fail(result,
			                      cert->event_id,
			                      "certificate %s was moved to another device than event "
			                      "%" G_GINT64_FORMAT " recorded",
			                      serial,
			                      cert->event_id);
		}
		if (g_strcmp0(state, cert->state) != 0) {
			return fst_audit_fail(result,
			                      cert->event_id,
			                      "certificate %s is %s but the audit chain moved it to %s",
			                      serial,
			                      state != NULL ? state : "(null)",
			                      cert->state);
		}
		g_hash_table_remove(certs, serial);
	}
	if (rc != SQLITE_DONE)
		return fst_audit_sql_error(db, path, "reading the certificates", error);

	/* what is left was recorded by the chain and is no longer there */
	g_hash_table_iter_init(&iter, certs);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		FstAuditCert *cert = value;
		return fst_audit_fail(result,
		                      cert->event_id,
		                      "certificate %s was deleted (event %" G_GINT64_FORMAT
		                      " recorded it)",
		                      (const gchar *)key,
		                      cert->event_id);
	}
	return TRUE;
}

/**
 * fst_audit_verify:
 * @db_path: a station database file
 * @error: (nullable): return location for a #GError
 *
 * Walks the audit chain of @db_path through its own read-only connection (a
 * station may be writing meanwhile: the walk sees one snapshot) and checks
 * every event hash, the chain head, and every certificate row and key
 * escrow (schema v4) against the events that recorded it.
 *
 * A tampered database is not an error: the result says so, with the first
 * row that was changed, inserted or deleted. Fails with %FST_ERROR_DATABASE
 * when the file cannot be read or has no audit chain (schema before v2).
 *
 * Returns: (transfer full): the result, or %NULL on error
 */
FstAuditResult *
fst_audit_verify(const gchar *db_path, GError **error)
{
	g_autoptr(sqlite3) db = NULL;
	g_autoptr(sqlite3_stmt) version = NULL;
	g_autoptr(FstAuditResult) result = g_new0(FstAuditResult, 1);
	g_autoptr(GHashTable) certs =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)fst_audit_cert_free);
	g_autofree gchar *head_hash = NULL;
	gint64 user_version = 0;
	gint64 head_id = -1;

	g_return_val_if_fail(db_path != NULL, NULL);

	if (!g_file_test(db_path, G_FILE_TEST_IS_REGULAR)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "no database at %s: check the workspace path",
		            db_path);
		return NULL;
	}
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return fst_audit_sql_error(db, db_path, "opening", error), NULL;
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &version, NULL) != SQLITE_OK ||
	    sqlite3_step(version) != SQLITE_ROW)
		return fst_audit_sql_error(db, db_path, "reading the schema version", error), NULL;
	user_version = sqlite3_column_int64(version, 0);
	if (user_version < 2) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s has schema version %" G_GINT64_FORMAT ", which has no "
		            "audit chain: open it once with this fleetstation (e.g. `fleetstation "
		            "devices`) to migrate it",
		            db_path,
		            user_version);
		return NULL;
	}

	if (!fst_audit_read_head(db, db_path, &head_id, &head_hash, error))
		return NULL;
	result->ok = TRUE;
	if (!fst_audit_walk_events(db, db_path, head_id, result, certs, error)) {
		if (result->ok)
			return NULL;
		return g_steal_pointer(&result);
	}
	if (!fst_audit_check_head(result, head_id, head_hash))
		return g_steal_pointer(&result);
	if (user_version >= 4 && result->ok &&
	    !fst_audit_check_escrows(db, db_path, result, certs, error) && result->ok)
		return NULL;
	if (result->ok && !fst_audit_check_certificates(db, db_path, result, certs, error) &&
	    result->ok)
		return NULL;
	return g_steal_pointer(&result);
}
