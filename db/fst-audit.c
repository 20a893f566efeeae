/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstAudit"

#include "fst-audit.h"

#include <openssl/evp.h>
#include <sqlite3.h>
#include <string.h>

#include "fst-crypto.h"
#include "fst-db-private.h"
#include "fst-error.h"

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
 *   rows <len> <bytes>       (only when the event binds rows)
 *
 * The lengths are those of the exact stored bytes (a NUL inside a text is
 * hashed, not a terminator) and make the encoding unambiguous whatever a
 * detail holds (newlines, text that looks like the next field).
 *
 * Row bindings: every transaction that inserts or changes a row of a bound
 * table (FstAuditTable: devices, certificates, device_objects, operators,
 * lots, stations, profiles, cas, key_escrows) stores in its last event's
 * `rows` column one binding per such row: table code, row id and the SHA-256
 * of the row's canonical content as committed (fst_audit_row_hash() from a
 * read, fst_audit_row_hash_new() from the values a statement writes: the
 * same text):
 *
 *   fst-audit-row-v1
 *   table <len> <name>
 *   columns <n>
 *   then per column, in table order:
 *   column <len> <name>
 *   i <n> | f <%.17g> | t <len> <bytes> | b <len> <bytes> | -   (NULL)
 *
 * The last binding of a row in chain order is what the row must hold now: a
 * row that differs was changed, one without a binding was inserted, and a
 * binding without its row was deleted outside fleetstation.
 */

/* the canonical text is gathered in one flat buffer (on the stack for any
 * row but a large one) and hashed at once with OpenSSL (hardware SHA-256
 * where the CPU has it): the row hashes run for every row a commit writes,
 * and a row's text is a hundred short pieces */
#define FST_AUDIT_SUM_STACK 2048

typedef struct {
	guint8 *data;
	gsize len;
	gsize alloc;
	guint8 stack[FST_AUDIT_SUM_STACK];
} FstAuditSum;

static void
fst_audit_sum_init(FstAuditSum *sum)
{
	sum->data = sum->stack;
	sum->len = 0;
	sum->alloc = sizeof(sum->stack);
}

static void
fst_audit_sum_clear(FstAuditSum *sum)
{
	if (sum->data != sum->stack)
		g_free(sum->data);
	sum->data = NULL;
}

static void
fst_audit_sum_grow(FstAuditSum *sum, gsize need)
{
	gsize alloc = sum->alloc;

	while (alloc < need)
		alloc *= 2;
	if (sum->data == sum->stack) {
		sum->data = g_malloc(alloc);
		memcpy(sum->data, sum->stack, sum->len);
	} else {
		sum->data = g_realloc(sum->data, alloc);
	}
	sum->alloc = alloc;
}

static inline void
fst_audit_put(FstAuditSum *sum, const gchar *data, gssize len)
{
	gsize n = len < 0 ? strlen(data) : (gsize)len;

	if (sum->len + n > sum->alloc)
		fst_audit_sum_grow(sum, sum->len + n);
	memcpy(sum->data + sum->len, data, n);
	sum->len += n;
}

static void
fst_audit_digest(FstAuditSum *sum, guint8 out[FST_AUDIT_HASH_LEN])
{
	G_STATIC_ASSERT(FST_AUDIT_HASH_LEN == 32);
	fst_crypto_sha256(sum->data, sum->len, out);
	fst_audit_sum_clear(sum);
}

/**
 * fst_audit_int_text:
 * @value: a number
 * @buf: room for it
 * @len: (out): the length of its text
 *
 * Writes @value in decimal, byte for byte as printf's %" G_GINT64_FORMAT "
 * does, without printf: canonical texts and step lists are built for every
 * row and event a commit writes.
 *
 * Returns: (transfer none): the text, at the end of @buf, not NUL-terminated
 */
const gchar *
fst_audit_int_text(gint64 value, gchar buf[FST_AUDIT_INT_TEXT], gsize *len)
{
	guint64 v = value < 0 ? (guint64)0 - (guint64)value : (guint64)value;
	gsize at = FST_AUDIT_INT_TEXT;

	do {
		buf[--at] = (gchar)('0' + (v % 10));
		v /= 10;
	} while (v > 0);
	if (value < 0)
		buf[--at] = '-';
	*len = FST_AUDIT_INT_TEXT - at;
	return buf + at;
}

static void
fst_audit_put_int(FstAuditSum *sum, gint64 value)
{
	gchar buf[FST_AUDIT_INT_TEXT];
	gsize len = 0;
	const gchar *text = fst_audit_int_text(value, buf, &len);

	fst_audit_put(sum, text, (gssize)len);
}

static void
fst_audit_add_text(FstAuditSum *sum, const gchar *name, const gchar *text, gssize len)
{
	fst_audit_put(sum, name, -1);
	if (text == NULL) {
		fst_audit_put(sum, " -\n", 3);
		return;
	}
	/* the exact bytes: text after a NUL is hashed like any other; a length
	 * of 0 or less means up to the NUL (a stored empty text is 0 either way) */
	if (len <= 0)
		len = (gssize)strlen(text);
	fst_audit_put(sum, " ", 1);
	fst_audit_put_int(sum, (gint64)len);
	fst_audit_put(sum, " ", 1);
	fst_audit_put(sum, text, len);
	fst_audit_put(sum, "\n", 1);
}

static void
fst_audit_add_int(FstAuditSum *sum, const gchar *name, gint64 value)
{
	fst_audit_put(sum, name, -1);
	fst_audit_put(sum, " ", 1);
	fst_audit_put_int(sum, value);
	fst_audit_put(sum, "\n", 1);
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
	FstAuditSum sum_buf;
	FstAuditSum *sum = &sum_buf;
	guint8 digest[FST_AUDIT_HASH_LEN];

	fst_audit_sum_init(sum);
	fst_audit_put(sum, "fst-audit-event-v1\nprev ", -1);
	fst_audit_put(sum, prev_hash, -1);
	fst_audit_put(sum, "\n", 1);
	fst_audit_add_int(sum, "id", row->id);
	fst_audit_add_int(sum, "device", row->device_id);
	fst_audit_add_int(sum, "station", row->station_id);
	fst_audit_add_int(sum, "operator", row->operator_id);
	fst_audit_add_int(sum, "lot", row->lot_id);
	if (row->step != NULL)
		fst_audit_add_text(sum, "step", row->step, row->step_len);
	else
		fst_audit_add_text(sum, "step", "", 0);
	fst_audit_add_int(sum, "started", row->started_at);
	fst_audit_add_int(sum, "ended", row->ended_at);
	if (row->outcome != NULL)
		fst_audit_add_text(sum, "outcome", row->outcome, row->outcome_len);
	else
		fst_audit_add_text(sum, "outcome", "", 0);
	fst_audit_add_text(sum, "detail", row->detail, row->detail_len);
	/* a row without bindings hashes as it did before bindings existed */
	if (row->rows != NULL)
		fst_audit_add_text(sum, "rows", (const gchar *)row->rows, (gssize)row->rows_len);
	fst_audit_digest(sum, digest);
	return fst_audit_hash_from_bytes(digest, sizeof(digest));
}

static const gchar *const fst_audit_table_names[] = {
    [FST_AUDIT_TABLE_NONE] = NULL,
    [FST_AUDIT_TABLE_DEVICES] = "devices",
    [FST_AUDIT_TABLE_CERTIFICATES] = "certificates",
    [FST_AUDIT_TABLE_DEVICE_OBJECTS] = "device_objects",
    [FST_AUDIT_TABLE_OPERATORS] = "operators",
    [FST_AUDIT_TABLE_LOTS] = "lots",
    [FST_AUDIT_TABLE_STATIONS] = "stations",
    [FST_AUDIT_TABLE_PROFILES] = "profiles",
    [FST_AUDIT_TABLE_CAS] = "cas",
    [FST_AUDIT_TABLE_KEY_ESCROWS] = "key_escrows",
};
G_STATIC_ASSERT(G_N_ELEMENTS(fst_audit_table_names) == FST_AUDIT_TABLE_LAST);

/**
 * fst_audit_table_name:
 * @table: an #FstAuditTable
 *
 * Returns: the SQL name of @table, or %NULL for an unknown code
 */
const gchar *
fst_audit_table_name(FstAuditTable table)
{
	if ((guint)table >= FST_AUDIT_TABLE_LAST)
		return NULL;
	return fst_audit_table_names[table];
}

/**
 * fst_audit_table_from_name:
 * @name: an SQL table name
 *
 * Returns: the code of @name, or %FST_AUDIT_TABLE_NONE when the chain does not
 * bind its rows
 */
FstAuditTable
fst_audit_table_from_name(const gchar *name)
{
	for (guint i = 1; i < FST_AUDIT_TABLE_LAST; i++) {
		if (g_strcmp0(name, fst_audit_table_names[i]) == 0)
			return (FstAuditTable)i;
	}
	return FST_AUDIT_TABLE_NONE;
}

/* one column of a row's canonical content: name, storage class, bytes */
static void
fst_audit_add_value(FstAuditSum *sum, const gchar *name, sqlite3_value *value)
{
	gchar buf[64];

	fst_audit_add_text(sum, "column", name != NULL ? name : "", -1);
	switch (sqlite3_value_type(value)) {
	case SQLITE_INTEGER:
		fst_audit_put(sum, "i ", 2);
		fst_audit_put_int(sum, (gint64)sqlite3_value_int64(value));
		fst_audit_put(sum, "\n", 1);
		break;
	case SQLITE_FLOAT:
		g_snprintf(buf, sizeof(buf), "f %.17g\n", sqlite3_value_double(value));
		fst_audit_put(sum, buf, -1);
		break;
	case SQLITE_TEXT: {
		const guchar *text = sqlite3_value_text(value);
		fst_audit_add_text(sum, "t", (const gchar *)text, sqlite3_value_bytes(value));
		break;
	}
	case SQLITE_BLOB: {
		gconstpointer blob = sqlite3_value_blob(value);
		gint len = sqlite3_value_bytes(value);
		fst_audit_add_text(sum, "b", blob != NULL ? blob : "", blob != NULL ? len : 0);
		break;
	}
	case SQLITE_NULL:
	default:
		fst_audit_put(sum, "-\n", 2);
		break;
	}
}

static void
fst_audit_row_begin(FstAuditSum *sum, FstAuditTable table, gint ncol)
{
	fst_audit_sum_init(sum);
	fst_audit_put(sum, "fst-audit-row-v1\n", -1);
	fst_audit_add_text(sum, "table", fst_audit_table_name(table), -1);
	fst_audit_add_int(sum, "columns", ncol);
}

/**
 * fst_audit_row_hash:
 * @stmt: a statement stepped onto one row of `SELECT * FROM <table>`
 * @table: the table it reads
 * @out: (out caller-allocates): the SHA-256 of the row's canonical content
 *
 * The canonical content of a row is every column in table order, each with
 * its name, storage class and exact bytes with their length (see the top of
 * this file), so that no edit of any column goes unseen.
 */
void
fst_audit_row_hash(sqlite3_stmt *stmt, FstAuditTable table, guint8 out[FST_AUDIT_HASH_LEN])
{
	FstAuditSum sum_buf;
	FstAuditSum *sum = &sum_buf;
	gint ncol = sqlite3_column_count(stmt);

	fst_audit_row_begin(sum, table, ncol);
	/* the column's value as the statement holds it, read on the thread that
	 * steps it (what sqlite3_column_*() would give) */
	for (gint i = 0; i < ncol; i++)
		fst_audit_add_value(
		    sum, sqlite3_column_name(stmt, i), sqlite3_column_value(stmt, i));
	fst_audit_digest(sum, out);
}

/**
 * fst_audit_row_hash_new:
 * @db: a connection inside its pre-update hook, for an INSERT or an UPDATE
 * @table: the table of the row
 * @names: the names of its @ncol columns, in table order
 * @ncol: their number
 * @out: (out caller-allocates): the SHA-256 of the row's canonical content
 *
 * The fst_audit_row_hash() of the row as the statement writes it, from the
 * new values SQLite hands the hook (sqlite3_preupdate_new(): after type
 * affinity, the rowid for an INTEGER PRIMARY KEY), without reading it back.
 * Not for a table with a REAL column: SQLite stores an integral REAL as an
 * integer and reads it back as a REAL.
 *
 * Returns: %FALSE when SQLite gives no value for a column
 */
gboolean
fst_audit_row_hash_new(sqlite3 *db,
                       FstAuditTable table,
                       const gchar *const *names,
                       gint ncol,
                       guint8 out[FST_AUDIT_HASH_LEN])
{
	FstAuditSum sum_buf;
	FstAuditSum *sum = &sum_buf;

	fst_audit_row_begin(sum, table, ncol);
	for (gint i = 0; i < ncol; i++) {
		sqlite3_value *value = NULL;
		if (sqlite3_preupdate_new(db, i, &value) != SQLITE_OK || value == NULL) {
			fst_audit_sum_clear(sum);
			return FALSE;
		}
		fst_audit_add_value(sum, names[i], value);
	}
	fst_audit_digest(sum, out);
	return TRUE;
}

/**
 * fst_audit_binding_append:
 * @rows: the bindings of an event being written
 * @table: the row's table
 * @id: its rowid
 * @hash: its fst_audit_row_hash()
 *
 * Appends one binding in the stored format (%FST_AUDIT_BINDING_LEN bytes).
 */
void
fst_audit_binding_append(GByteArray *rows,
                         FstAuditTable table,
                         gint64 id,
                         const guint8 hash[FST_AUDIT_HASH_LEN])
{
	guint8 entry[FST_AUDIT_BINDING_LEN];
	guint64 v = (guint64)id;

	entry[0] = (guint8)table;
	for (guint i = 0; i < 8; i++)
		entry[1 + i] = (guint8)(v >> (56 - 8 * i));
	memcpy(entry + 9, hash, FST_AUDIT_HASH_LEN);
	g_byte_array_append(rows, entry, sizeof(entry));
}

/**
 * fst_audit_hash_to_bytes:
 * @hex: 64 hex digits, from fst_audit_event_hash()
 * @out: (out caller-allocates): the 32 bytes
 */
void
fst_audit_hash_to_bytes(const gchar *hex, guint8 out[FST_AUDIT_HASH_LEN])
{
	if (!fst_crypto_hex_decode(hex, out, FST_AUDIT_HASH_LEN))
		g_critical("%s is not an audit hash", hex);
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
	guint8 aws_cert_id[FST_AUDIT_HASH_LEN];
	gboolean aws_cert_id_ok; /* the event gave 64 lower-case hex digits */
	gint64 device_id;
	gint64 event_id;
	const gchar *state;     /* the last state the chain moved it to (interned) */
	gint64 escrow_event_id; /* 0 when the chain recorded no escrow */
	gchar *escrow_recipient;
	gchar *escrow_sha256; /* of the CMS */
	gboolean escrow_seen; /* its key_escrows row was checked */
} FstAuditCert;

static void
fst_audit_cert_free(FstAuditCert *self)
{
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

/**
 * fst_audit_sha256_parse:
 * @hex: (nullable): what an event says a SHA-256 is
 * @out: (out caller-allocates): its 32 bytes
 *
 * Reads a SHA-256 as the station writes it in events (64 lower-case hex
 * digits), for the station's audit and the central registry's.
 *
 * Returns: %TRUE when @hex is one
 */
gboolean
fst_audit_sha256_parse(const gchar *hex, guint8 out[FST_AUDIT_HASH_LEN])
{
	return hex != NULL && strlen(hex) == 2 * FST_AUDIT_HASH_LEN &&
	       strspn(hex, "0123456789abcdef") == 2 * FST_AUDIT_HASH_LEN &&
	       fst_crypto_hex_decode(hex, out, FST_AUDIT_HASH_LEN);
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
		cert->aws_cert_id_ok = fst_audit_sha256_parse(words[3], cert->aws_cert_id);
		cert->device_id = device_id;
		cert->event_id = id;
		/* a certificate older than the chain says its state then */
		cert->state = g_intern_string(
		    g_strv_length(words) >= 6 && g_strcmp0(words[4], "as") == 0 ? words[5]
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
		cert->state = g_intern_string(words[4]);
	}
}

/* what an event says about certificates: its own step, or each step it
 * folds (a device log commit); FALSE (with @result failed) if it cannot be
 * read */
static gboolean
fst_audit_note_event(GHashTable *certs, FstAuditResult *result, const FstAuditEventRow *row)
{
	g_autoptr(GPtrArray) steps = NULL;

	if (g_strcmp0(row->step, FST_AUDIT_STEP_FOLDED) != 0) {
		fst_audit_note_cert_event(
		    certs, result, row->id, row->device_id, row->step, row->detail);
		return result->ok;
	}
	steps = fst_audit_steps_from_payload(
	    row->detail, (gsize)MAX(row->detail_len, 0), row->started_at);
	if (steps == NULL)
		return fst_audit_fail(result,
		                      row->id,
		                      "event %" G_GINT64_FORMAT " holds a malformed list of steps",
		                      row->id);
	for (guint i = 0; i < steps->len && result->ok; i++) {
		FstAuditStep *st = g_ptr_array_index(steps, i);
		fst_audit_note_cert_event(
		    certs, result, row->id, row->device_id, st->step, st->detail);
	}
	return result->ok;
}

/* what the chain says a bound row holds: its last binding (40 bytes, one
 * per bound row: the largest part of a verification's memory) */
typedef struct {
	guint8 hash[FST_AUDIT_HASH_LEN];
	gint64 event_id; /* 0: no binding */
} FstAuditBound;

/* the bindings of one table, indexed by row id */
typedef struct {
	GArray *rows[FST_AUDIT_TABLE_LAST]; /* (element-type FstAuditBound) */
} FstAuditBindings;

/* ids are consecutive from 1 (nothing is deleted): a binding far beyond any
 * id fleetstation writes is refused rather than sized for */
#define FST_AUDIT_MAX_ROW_ID ((gint64)1 << 32)

static void
fst_audit_bindings_clear(FstAuditBindings *self)
{
	for (guint i = 0; i < FST_AUDIT_TABLE_LAST; i++)
		g_clear_pointer(&self->rows[i], g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FstAuditBindings, fst_audit_bindings_clear)

/* each table's array sized once for the rows it has (ids are consecutive),
 * instead of doubled as bindings come: a binding past the last row (of a
 * deleted row) still grows it */
static gboolean
fst_audit_bindings_init(FstAuditBindings *self, sqlite3 *db, const gchar *path, GError **error)
{
	for (guint t = 1; t < FST_AUDIT_TABLE_LAST; t++) {
		g_autoptr(sqlite3_stmt) stmt = NULL;
		g_autofree gchar *sql =
		    g_strdup_printf("SELECT max(rowid) FROM %s", fst_audit_table_name(t));
		gint64 max_id;

		if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK ||
		    sqlite3_step(stmt) != SQLITE_ROW)
			return fst_audit_sql_error(db, path, "counting the bound rows", error);
		max_id = sqlite3_column_int64(stmt, 0);
		if (max_id <= 0 || max_id >= FST_AUDIT_MAX_ROW_ID)
			continue;
		self->rows[t] =
		    g_array_sized_new(FALSE, TRUE, sizeof(FstAuditBound), (guint)max_id + 1);
		g_array_set_size(self->rows[t], (guint)max_id + 1);
	}
	return TRUE;
}

static FstAuditBound *
fst_audit_bindings_get(FstAuditBindings *self, FstAuditTable table, gint64 id, gboolean grow)
{
	GArray *rows = self->rows[table];

	if (id <= 0 || id >= FST_AUDIT_MAX_ROW_ID)
		return NULL;
	if (rows == NULL) {
		if (!grow)
			return NULL;
		rows = self->rows[table] = g_array_new(FALSE, TRUE, sizeof(FstAuditBound));
	}
	if ((gint64)rows->len <= id) {
		if (!grow)
			return NULL;
		g_array_set_size(rows, MAX((guint)id + 1, rows->len * 2));
	}
	return &g_array_index(rows, FstAuditBound, id);
}

/* stores the bindings of event @id; FALSE (with @result failed) if malformed */
static gboolean
fst_audit_note_bindings(FstAuditBindings *bindings,
                        FstAuditResult *result,
                        gint64 id,
                        const guint8 *rows,
                        gsize rows_len)
{
	if (rows_len % FST_AUDIT_BINDING_LEN != 0)
		return fst_audit_fail(
		    result, id, "event %" G_GINT64_FORMAT " has malformed row bindings", id);
	for (gsize off = 0; off < rows_len; off += FST_AUDIT_BINDING_LEN) {
		const guint8 *entry = rows + off;
		FstAuditTable table = (FstAuditTable)entry[0];
		guint64 row_id = 0;
		FstAuditBound *bound;

		for (guint i = 0; i < 8; i++)
			row_id = (row_id << 8) | entry[1 + i];
		if (fst_audit_table_name(table) == NULL)
			return fst_audit_fail(result,
			                      id,
			                      "event %" G_GINT64_FORMAT " binds a row of unknown "
			                      "table %u",
			                      id,
			                      (guint)table);
		bound = fst_audit_bindings_get(bindings, table, (gint64)row_id, TRUE);
		if (bound == NULL)
			return fst_audit_fail(result,
			                      id,
			                      "event %" G_GINT64_FORMAT
			                      " binds %s row %" G_GUINT64_FORMAT
			                      ", an id fleetstation never writes",
			                      id,
			                      fst_audit_table_name(table),
			                      row_id);
		memcpy(bound->hash, entry + 9, FST_AUDIT_HASH_LEN);
		bound->event_id = id;
	}
	return TRUE;
}

/* the anchors to check during the walk: event id -> anchored hash */
static gboolean
fst_audit_check_anchor(GPtrArray *anchors, FstAuditResult *result, gint64 id, const gchar *hash)
{
	for (guint i = 0; anchors != NULL && i < anchors->len; i++) {
		FstAuditAnchor *anchor = g_ptr_array_index(anchors, i);
		if (anchor->head_id != id)
			continue;
		if (g_ascii_strcasecmp(anchor->head_hash, hash) != 0)
			return fst_audit_fail(result,
			                      id,
			                      "event %" G_GINT64_FORMAT
			                      " is not the one anchored %s: "
			                      "the chain was rewritten from there on",
			                      id,
			                      anchor->source != NULL ? anchor->source : "");
		anchor->matched = TRUE;
	}
	return TRUE;
}

static gboolean
fst_audit_walk_events(sqlite3 *db,
                      const gchar *path,
                      gint64 head_id,
                      gboolean has_rows,
                      FstAuditResult *result,
                      GHashTable *certs,
                      FstAuditBindings *bindings,
                      GPtrArray *anchors,
                      GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *prev = g_strdup(FST_AUDIT_GENESIS);
	gint64 prev_id = 0;
	gint rc;

	if (sqlite3_prepare_v2(
	        db,
	        has_rows ? "SELECT id, device_id, station_id, operator_id, lot_id, step, "
	                   "started_at, ended_at, outcome, detail, hash, rows FROM events "
	                   "ORDER BY id"
	                 : "SELECT id, device_id, station_id, operator_id, lot_id, step, "
	                   "started_at, ended_at, outcome, detail, hash, NULL FROM events "
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
		    .step_len = sqlite3_column_bytes(stmt, 5),
		    .started_at = sqlite3_column_int64(stmt, 6),
		    .ended_at = sqlite3_column_int64(stmt, 7),
		    .outcome = (const gchar *)sqlite3_column_text(stmt, 8),
		    .outcome_len = sqlite3_column_bytes(stmt, 8),
		    .detail = (const gchar *)sqlite3_column_text(stmt, 9),
		    .detail_len = sqlite3_column_bytes(stmt, 9),
		    .rows = sqlite3_column_blob(stmt, 11),
		    .rows_len = (gsize)sqlite3_column_bytes(stmt, 11),
		};
		g_autofree gchar *stored = fst_audit_hash_from_bytes(
		    sqlite3_column_blob(stmt, 10), (gsize)sqlite3_column_bytes(stmt, 10));
		g_autofree gchar *expected = NULL;

		result->events++;
		if (head_id >= 0 && row.id > head_id) {
			return fst_audit_fail(
			    result,
			    row.id,
			    "event %" G_GINT64_FORMAT " was inserted outside "
			    "fleetstation (the chain head is event %" G_GINT64_FORMAT ")",
			    row.id,
			    head_id);
		}
		if (row.id != prev_id + 1 && row.id == prev_id + 2) {
			return fst_audit_fail(
			    result,
			    prev_id + 1,
			    "event %" G_GINT64_FORMAT " was deleted (the chain jumps "
			    "from event %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT ")",
			    prev_id + 1,
			    prev_id,
			    row.id);
		}
		if (row.id != prev_id + 1) {
			return fst_audit_fail(
			    result,
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
			                      "event %" G_GINT64_FORMAT
			                      " has no chain hash: it was "
			                      "inserted outside fleetstation",
			                      row.id);
		}
		expected = fst_audit_event_hash(prev, &row);
		if (g_strcmp0(expected, stored) != 0) {
			return fst_audit_fail(result,
			                      row.id,
			                      "event %" G_GINT64_FORMAT
			                      " was changed: its content no "
			                      "longer matches its hash",
			                      row.id);
		}
		if (!fst_audit_note_event(certs, result, &row))
			return FALSE;
		if (row.rows != NULL &&
		    !fst_audit_note_bindings(bindings, result, row.id, row.rows, row.rows_len))
			return FALSE;
		if (!fst_audit_check_anchor(anchors, result, row.id, stored))
			return FALSE;
		result->last_event_at = row.ended_at;
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
	if (sqlite3_prepare_v2(
	        db, "SELECT value FROM db_properties WHERE key = 'audit-head'", -1, &stmt, NULL) !=
	    SQLITE_OK)
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
		return fst_audit_fail(
		    result, 0, "the audit head (db_properties audit-head) was deleted");
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
		sha = fst_crypto_sha256_hex(cms, cms_len);
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
fst_audit_check_certificates(
    sqlite3 *db, const gchar *path, FstAuditResult *result, GHashTable *certs, GError **error)
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
		guint8 raw[FST_AUDIT_HASH_LEN];
		FstAuditCert *cert;

		result->certificates++;
		if (serial == NULL)
			serial = "(null)";
		sha = fst_crypto_sha256_hex(der, der_len);
		cert = g_hash_table_lookup(certs, serial);
		if (cert == NULL) {
			return fst_audit_fail(
			    result,
			    0,
			    "certificate %s is not in the audit chain: it was "
			    "inserted, or its serial changed, outside fleetstation",
			    serial);
		}
		if (g_strcmp0(sha, aws) != 0 || !cert->aws_cert_id_ok ||
		    !fst_audit_sha256_parse(aws, raw) ||
		    memcmp(raw, cert->aws_cert_id, sizeof(raw)) != 0) {
			return fst_audit_fail(
			    result,
			    cert->event_id,
			    "certificate %s was changed: its DER or SHA-256 is not "
			    "what event %" G_GINT64_FORMAT " recorded",
			    serial,
			    cert->event_id);
		}
		if (sqlite3_column_int64(stmt, 3) != cert->device_id) {
			return fst_audit_fail(
			    result,
			    cert->event_id,
			    "certificate %s was moved to another device than event "
			    "%" G_GINT64_FORMAT " recorded",
			    serial,
			    cert->event_id);
		}
		if (g_strcmp0(state, cert->state) != 0) {
			return fst_audit_fail(
			    result,
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

/* no row of table @t with an id from @from up to @to (excluded) is there:
 * none of them may be bound */
static gboolean
fst_audit_check_deleted(
    FstAuditResult *result, FstAuditTable t, GArray *rows, gint64 from, gint64 to)
{
	gint64 end = rows != NULL ? MIN(to, (gint64)rows->len) : 0;

	for (gint64 id = MAX(from, 1); id < end; id++) {
		const FstAuditBound *bound = &g_array_index(rows, FstAuditBound, id);
		if (bound->event_id == 0)
			continue;
		return fst_audit_fail(result,
		                      bound->event_id,
		                      "%s row %" G_GINT64_FORMAT
		                      " was deleted (event %" G_GINT64_FORMAT " recorded it)",
		                      fst_audit_table_name(t),
		                      id,
		                      bound->event_id);
	}
	return TRUE;
}

/* every row of every bound table against its last binding in the chain */
static gboolean
fst_audit_check_rows(sqlite3 *db,
                     const gchar *path,
                     FstAuditResult *result,
                     FstAuditBindings *bindings,
                     GError **error)
{
	for (guint t = 1; t < FST_AUDIT_TABLE_LAST; t++) {
		g_autoptr(sqlite3_stmt) stmt = NULL;
		g_autofree gchar *sql =
		    g_strdup_printf("SELECT * FROM %s ORDER BY rowid", fst_audit_table_name(t));
		g_autofree gchar *what =
		    g_strdup_printf("reading table %s", fst_audit_table_name(t));
		GArray *rows = bindings->rows[t];
		gint64 next = 1;
		gint rc;

		if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
			return fst_audit_sql_error(db, path, what, error);
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			gint64 id = sqlite3_column_int64(stmt, 0);
			FstAuditBound *bound = fst_audit_bindings_get(bindings, t, id, FALSE);
			guint8 hash[FST_AUDIT_HASH_LEN];

			result->rows++;
			/* the rows come in order: a bound id skipped was deleted */
			if (!fst_audit_check_deleted(result, t, rows, next, id))
				return FALSE;
			next = id + 1;
			if (bound == NULL || bound->event_id == 0) {
				return fst_audit_fail(result,
				                      0,
				                      "%s row %" G_GINT64_FORMAT
				                      " is not in the audit "
				                      "chain: it was inserted outside fleetstation",
				                      fst_audit_table_name(t),
				                      id);
			}
			fst_audit_row_hash(stmt, t, hash);
			if (memcmp(hash, bound->hash, sizeof(hash)) != 0) {
				return fst_audit_fail(
				    result,
				    bound->event_id,
				    "%s row %" G_GINT64_FORMAT " was changed outside "
				    "fleetstation: it is not what event %" G_GINT64_FORMAT
				    " recorded",
				    fst_audit_table_name(t),
				    id,
				    bound->event_id);
			}
		}
		if (rc != SQLITE_DONE)
			return fst_audit_sql_error(db, path, what, error);
		if (!fst_audit_check_deleted(result, t, rows, next, G_MAXINT64))
			return FALSE;
	}
	return TRUE;
}

/* the anchors the walk did not meet: the chain no longer reaches them */
static gboolean
fst_audit_check_anchors_reached(GPtrArray *anchors, FstAuditResult *result)
{
	for (guint i = 0; anchors != NULL && i < anchors->len; i++) {
		FstAuditAnchor *anchor = g_ptr_array_index(anchors, i);
		if (anchor->matched)
			continue;
		return fst_audit_fail(result,
		                      result->head_id + 1,
		                      "the chain ends at event %" G_GINT64_FORMAT
		                      " but %s anchored "
		                      "event %" G_GINT64_FORMAT ": events were dropped and the "
		                      "head moved back",
		                      result->head_id,
		                      anchor->source != NULL ? anchor->source : "an anchor",
		                      anchor->head_id);
	}
	return TRUE;
}

static gboolean
fst_audit_read_property(
    sqlite3 *db, const gchar *path, const gchar *key, gchar **value, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	gint rc;

	if (sqlite3_prepare_v2(
	        db, "SELECT value FROM db_properties WHERE key = ?1", -1, &stmt, NULL) !=
	        SQLITE_OK ||
	    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
		return fst_audit_sql_error(db, path, "reading the database properties", error);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0) != NULL)
		*value = g_strdup((const gchar *)sqlite3_column_text(stmt, 0));
	else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return fst_audit_sql_error(db, path, "reading the database properties", error);
	return TRUE;
}

/* a read-only connection in a read transaction, at schema version 2 or later */
static sqlite3 *
fst_audit_open(const gchar *db_path, gint64 *user_version, GError **error)
{
	g_autoptr(sqlite3) db = NULL;
	g_autoptr(sqlite3_stmt) version = NULL;

	db = _fst_db_connect_read_only(db_path, error);
	if (db == NULL)
		return NULL;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &version, NULL) != SQLITE_OK ||
	    sqlite3_step(version) != SQLITE_ROW)
		return fst_audit_sql_error(db, db_path, "reading the schema version", error), NULL;
	*user_version = sqlite3_column_int64(version, 0);
	if (*user_version < 2) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "database %s has schema version %" G_GINT64_FORMAT ", which has no "
		            "audit chain: open it once with this fleetstation (e.g. `fleetstation "
		            "devices`) to migrate it",
		            db_path,
		            *user_version);
		return NULL;
	}
	return g_steal_pointer(&db);
}

/**
 * fst_audit_verify:
 * @db_path: a station database file
 * @error: (nullable): return location for a #GError
 *
 * fst_audit_verify_anchored() without anchors.
 *
 * Returns: (transfer full): the result, or %NULL on error
 */
FstAuditResult *
fst_audit_verify(const gchar *db_path, GError **error)
{
	return fst_audit_verify_anchored(db_path, NULL, error);
}

/**
 * fst_audit_verify_anchored:
 * @db_path: a station database file
 * @anchors: (nullable) (element-type FstAuditAnchor): chain heads kept
 *   outside the database; each gets @matched set when the chain reaches it
 * @error: (nullable): return location for a #GError
 *
 * Walks the audit chain of @db_path through its own read-only connection (a
 * station may be writing meanwhile: the walk sees one snapshot; read-only
 * media work, see fst_db_open_read_only()) and checks every event hash, the
 * chain head, every certificate row and key escrow against the events that
 * recorded them, every bound row (devices, certificates, objects, names...)
 * against its last binding, and that the chain still passes through each
 * anchor.
 *
 * A tampered database is not an error: the result says so, with the first
 * row that was changed, inserted or deleted. Fails with %FST_ERROR_DATABASE
 * when the file cannot be read or has no audit chain (schema before v2), and
 * with %FST_ERROR_INVALID_DATA when an anchor belongs to another database.
 *
 * Returns: (transfer full): the result, or %NULL on error
 */
FstAuditResult *
fst_audit_verify_anchored(const gchar *db_path, GPtrArray *anchors, GError **error)
{
	g_autoptr(sqlite3) db = NULL;
	g_autoptr(FstAuditResult) result = g_new0(FstAuditResult, 1);
	g_autoptr(GHashTable) certs = g_hash_table_new_full(
	    g_str_hash, g_str_equal, g_free, (GDestroyNotify)fst_audit_cert_free);
	g_auto(FstAuditBindings) bindings = {0};
	g_autofree gchar *head_hash = NULL;
	g_autofree gchar *database_id = NULL;
	gint64 user_version = 0;
	gint64 head_id = -1;

	g_return_val_if_fail(db_path != NULL, NULL);

	db = fst_audit_open(db_path, &user_version, error);
	if (db == NULL)
		return NULL;
	if (!fst_audit_read_property(db, db_path, "database-id", &database_id, error))
		return NULL;
	for (guint i = 0; anchors != NULL && i < anchors->len; i++) {
		FstAuditAnchor *anchor = g_ptr_array_index(anchors, i);
		anchor->matched = FALSE;
		if (anchor->database_id != NULL && database_id != NULL &&
		    g_strcmp0(anchor->database_id, database_id) != 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INVALID_DATA,
			            "%s anchors database %s, not %s (%s): give the anchors of "
			            "this database",
			            anchor->source != NULL ? anchor->source : "an anchor",
			            anchor->database_id,
			            database_id,
			            db_path);
			return NULL;
		}
	}

	if (!fst_audit_read_head(db, db_path, &head_id, &head_hash, error))
		return NULL;
	if (user_version >= 5 && !fst_audit_bindings_init(&bindings, db, db_path, error))
		return NULL;
	result->ok = TRUE;
	if (!fst_audit_walk_events(db,
	                           db_path,
	                           head_id,
	                           user_version >= 5,
	                           result,
	                           certs,
	                           &bindings,
	                           anchors,
	                           error)) {
		if (result->ok)
			return NULL;
		return g_steal_pointer(&result);
	}
	if (!fst_audit_check_anchors_reached(anchors, result))
		return g_steal_pointer(&result);
	if (!fst_audit_check_head(result, head_id, head_hash))
		return g_steal_pointer(&result);
	if (user_version >= 4 && result->ok &&
	    !fst_audit_check_escrows(db, db_path, result, certs, error) && result->ok)
		return NULL;
	if (result->ok && !fst_audit_check_certificates(db, db_path, result, certs, error) &&
	    result->ok)
		return NULL;
	if (user_version >= 5 && result->ok &&
	    !fst_audit_check_rows(db, db_path, result, &bindings, error) && result->ok)
		return NULL;
	return g_steal_pointer(&result);
}

/**
 * fst_audit_anchor_free:
 * @self: (nullable): an #FstAuditAnchor
 */
void
fst_audit_anchor_free(FstAuditAnchor *self)
{
	if (self == NULL)
		return;
	g_free(self->database_id);
	g_free(self->station);
	g_free(self->head_hash);
	g_free(self->source);
	g_free(self);
}

#define FST_AUDIT_ANCHOR_GROUP "fleetstation audit anchor"

/**
 * fst_audit_anchor_to_data:
 * @self: an anchor
 *
 * The anchor file format (a key file, group `[fleetstation audit anchor]`,
 * keys database-id, station, created-at (ISO 8601 UTC), created-us,
 * head-id, head-hash); `fleetstation audit checkpoint` signs it.
 *
 * Returns: (transfer full): the text of the anchor file
 */
gchar *
fst_audit_anchor_to_data(const FstAuditAnchor *self)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(self->created_at / G_USEC_PER_SEC);
	g_autofree gchar *iso = dt != NULL ? g_date_time_format_iso8601(dt) : g_strdup("");

	if (self->database_id != NULL)
		g_key_file_set_string(kf, FST_AUDIT_ANCHOR_GROUP, "database-id", self->database_id);
	if (self->station != NULL)
		g_key_file_set_string(kf, FST_AUDIT_ANCHOR_GROUP, "station", self->station);
	g_key_file_set_string(kf, FST_AUDIT_ANCHOR_GROUP, "created-at", iso);
	g_key_file_set_int64(kf, FST_AUDIT_ANCHOR_GROUP, "created-us", self->created_at);
	g_key_file_set_int64(kf, FST_AUDIT_ANCHOR_GROUP, "head-id", self->head_id);
	g_key_file_set_string(kf, FST_AUDIT_ANCHOR_GROUP, "head-hash", self->head_hash);
	return g_key_file_to_data(kf, NULL, NULL);
}

static gboolean
fst_audit_is_hash(const gchar *hex)
{
	if (hex == NULL || strlen(hex) != 2 * FST_AUDIT_HASH_LEN)
		return FALSE;
	for (const gchar *p = hex; *p != '\0'; p++) {
		if (!g_ascii_isxdigit(*p))
			return FALSE;
	}
	return TRUE;
}

/**
 * fst_audit_anchor_parse:
 * @data: the text of an anchor file (fst_audit_anchor_to_data())
 * @len: its length
 * @source: (nullable): its name, for messages
 * @error: (nullable): return location for a #GError
 *
 * Returns: (transfer full): the anchor, or %NULL with %FST_ERROR_INVALID_DATA
 */
FstAuditAnchor *
fst_audit_anchor_parse(const gchar *data, gsize len, const gchar *source, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(FstAuditAnchor) anchor = g_new0(FstAuditAnchor, 1);
	g_autoptr(GError) local = NULL;

	anchor->source = g_strdup(source);
	if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local) ||
	    !g_key_file_has_group(kf, FST_AUDIT_ANCHOR_GROUP)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "%s is not an audit anchor (from `fleetstation audit checkpoint`)",
		            source != NULL ? source : "the file");
		return NULL;
	}
	anchor->database_id =
	    g_key_file_get_string(kf, FST_AUDIT_ANCHOR_GROUP, "database-id", NULL);
	anchor->station = g_key_file_get_string(kf, FST_AUDIT_ANCHOR_GROUP, "station", NULL);
	anchor->created_at = g_key_file_get_int64(kf, FST_AUDIT_ANCHOR_GROUP, "created-us", NULL);
	anchor->head_id = g_key_file_get_int64(kf, FST_AUDIT_ANCHOR_GROUP, "head-id", NULL);
	anchor->head_hash = g_key_file_get_string(kf, FST_AUDIT_ANCHOR_GROUP, "head-hash", NULL);
	if (anchor->head_id <= 0 || !fst_audit_is_hash(anchor->head_hash)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "audit anchor %s has no valid head-id and head-hash",
		            source != NULL ? source : "");
		return NULL;
	}
	return g_steal_pointer(&anchor);
}

/**
 * fst_audit_read_anchor:
 * @db_path: a station database file
 * @station: (nullable): the station making the anchor; %NULL for the one
 *   that wrote to the database last
 * @error: (nullable): return location for a #GError
 *
 * Reads the current chain head of @db_path (read-only) as an anchor to keep
 * outside the database. The chain is verified first: an anchor of a chain
 * that is already broken would vouch for it.
 *
 * Returns: (transfer full): the anchor, or %NULL with %FST_ERROR_VERIFY_FAILED
 * when the chain is broken, %FST_ERROR_NOT_FOUND when it has no event yet
 */
FstAuditAnchor *
fst_audit_read_anchor(const gchar *db_path, const gchar *station, GError **error)
{
	g_autoptr(FstAuditResult) result = NULL;
	g_autoptr(FstAuditAnchor) anchor = g_new0(FstAuditAnchor, 1);
	g_autoptr(sqlite3) db = NULL;
	gint64 user_version = 0;

	result = fst_audit_verify(db_path, error);
	if (result == NULL)
		return NULL;
	if (!result->ok) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "the audit chain of %s is broken, so it cannot be anchored: %s",
		            db_path,
		            result->problem);
		return NULL;
	}
	if (result->head_hash == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "the audit chain of %s has no event yet: nothing to anchor",
		            db_path);
		return NULL;
	}
	db = fst_audit_open(db_path, &user_version, error);
	if (db == NULL ||
	    !fst_audit_read_property(db, db_path, "database-id", &anchor->database_id, error))
		return NULL;
	if (station != NULL)
		anchor->station = g_strdup(station);
	else {
		/* the station that wrote last */
		g_autoptr(sqlite3_stmt) stmt = NULL;
		if (sqlite3_prepare_v2(
		        db,
		        "SELECT name FROM stations ORDER BY updated_at DESC, id DESC "
		        "LIMIT 1",
		        -1,
		        &stmt,
		        NULL) != SQLITE_OK)
			return fst_audit_sql_error(db, db_path, "reading the stations", error),
			       NULL;
		if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != NULL)
			anchor->station = g_strdup((const gchar *)sqlite3_column_text(stmt, 0));
	}
	anchor->created_at = g_get_real_time();
	anchor->head_id = result->head_id;
	anchor->head_hash = g_strdup(result->head_hash);
	return g_steal_pointer(&anchor);
}
