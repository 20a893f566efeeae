/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The central audit (db/central.md, "Audit"): each station's copy of its
 * chain is walked again centrally (every hash recomputed from the central
 * columns with the station's own canonical text, ids consecutive, the head
 * the station last shipped), every certificate's DER is checked against the
 * `certificate-issued` event that recorded it and its state against its last
 * `certificate-state` move; and, where the station's file is at hand, the
 * central copy is compared with the journal itself.
 */

#define G_LOG_DOMAIN "FstCentral"

#include "fst-config.h"

#include <string.h>

#include "fst-central-private.h"
#include "fst-db-private.h"
#include "fst-crypto.h"
#include "fst-error.h"

void
fst_central_audit_station_free(FstCentralAuditStation *self)
{
	if (self == NULL)
		return;
	g_free(self->station);
	g_free(self->head_hash);
	g_free(self->problem);
	g_free(self);
}

/* a column of a binary-format result */
static gint64
fst_central_bin_int(const PGresult *res, gint row, gint col)
{
	const guint8 *p = (const guint8 *)PQgetvalue(res, row, col);
	guint64 v = 0;

	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8)
		return 0;
	for (guint i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return (gint64)v;
}

/* a text column of a binary-format row, as a string */
static gchar *
fst_central_bin_text(const PGresult *res, gint col)
{
	return g_strndup(PQgetvalue(res, 0, col), (gsize)PQgetlength(res, 0, col));
}

/* what the chain says of one certificate: one allocation, keyed by its own
 * serial (a station may have millions) */
typedef struct {
	guint8 sha256[FST_AUDIT_HASH_LEN]; /* what certificate-issued recorded */
	gboolean sha256_ok;                /* that was 64 hex digits */
	const gchar *state;                /* (nullable): the last certificate-state move, from
	                                    * the walk's set of state names */
	gchar serial[];
} FstCentralAuditCert;

typedef struct {
	GHashTable *certs;  /* serial -> FstCentralAuditCert (owned) */
	GHashTable *states; /* the state names seen, each once */
} FstCentralAuditWalk;

static const gchar *
fst_central_audit_state(FstCentralAuditWalk *walk, const gchar *state)
{
	const gchar *known = g_hash_table_lookup(walk->states, state);

	if (known == NULL) {
		gchar *copy = g_strdup(state);
		g_hash_table_add(walk->states, copy);
		known = copy;
	}
	return known;
}

/* what a certificate-issued or certificate-state event says */
static void
fst_central_audit_note(FstCentralAuditWalk *walk, const gchar *step, const gchar *detail)
{
	g_auto(GStrv) w = NULL;
	FstCentralAuditCert *c;

	if (detail == NULL || !g_str_has_prefix(detail, "certificate "))
		return;
	w = g_strsplit(detail, " ", 0);
	if (g_strcmp0(step, "certificate-issued") == 0) {
		/* "certificate S sha256 H[ as STATE (...)]" */
		gsize len;
		if (g_strv_length(w) < 4 || g_strcmp0(w[2], "sha256") != 0)
			return;
		len = strlen(w[1]);
		c = g_malloc0(sizeof(*c) + len + 1);
		memcpy(c->serial, w[1], len);
		c->sha256_ok = fst_audit_sha256_parse(w[3], c->sha256);
		if (g_strv_length(w) >= 6 && g_strcmp0(w[4], "as") == 0)
			c->state = fst_central_audit_state(walk, w[5]);
		/* replace: the key lives in the value */
		g_hash_table_replace(walk->certs, c->serial, c);
	} else if (g_strcmp0(step, "certificate-state") == 0) {
		/* "certificate S: FROM -> TO[ (...)]" */
		g_autofree gchar *serial = NULL;
		if (g_strv_length(w) < 5 || !g_str_has_suffix(w[1], ":") ||
		    g_strcmp0(w[3], "->") != 0)
			return;
		serial = g_strndup(w[1], strlen(w[1]) - 1);
		c = g_hash_table_lookup(walk->certs, serial);
		if (c == NULL)
			return;
		c->state = fst_central_audit_state(walk, w[4]);
	}
}

/* what an event says about certificates: its own step, or each step of a
 * device log commit that it holds (db/fst-audit-steps.c) */
static void
fst_central_audit_note_event(FstCentralAuditWalk *walk, const FstAuditEventRow *row)
{
	g_autoptr(GPtrArray) steps = NULL;

	if (g_strcmp0(row->step, FST_AUDIT_STEP_FOLDED) != 0) {
		fst_central_audit_note(walk, row->step, row->detail);
		return;
	}
	steps = fst_audit_steps_from_payload(
	    row->detail, row->detail != NULL ? (gsize)row->detail_len : 0, row->started_at);
	for (guint i = 0; steps != NULL && i < steps->len; i++) {
		FstAuditStep *st = g_ptr_array_index(steps, i);
		fst_central_audit_note(walk, st->step, st->detail);
	}
}

/* one row of a binary, single-row result; FALSE: the rest is only drained */
typedef gboolean (*FstCentralAuditRowFunc)(const PGresult *row, gpointer user_data);

/* runs @sql with its one parameter @param (the station), in binary and one
 * row at a time (a station may have millions), giving each row to @func
 * until it returns FALSE; @what names the rows in errors */
static gboolean
fst_central_audit_rows(FstCentral *self,
                       const gchar *sql,
                       const gchar *param,
                       const gchar *what,
                       const gchar *station,
                       FstCentralAuditRowFunc func,
                       gpointer user_data,
                       GError **error)
{
	PGconn *conn = self->conn;
	const gchar *params[] = {param};
	gboolean failed = FALSE;
	gboolean more = TRUE;

	if (!PQsendQueryParams(conn, sql, 1, NULL, params, NULL, NULL, 1) ||
	    !PQsetSingleRowMode(conn)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DISCONNECTED,
		            "central registry %s: reading the %s of %s: %s",
		            self->server,
		            what,
		            station,
		            PQerrorMessage(conn));
		return FALSE;
	}
	for (;;) {
		g_autoptr(PGresult) res = PQgetResult(conn);
		ExecStatusType est;

		if (res == NULL)
			break;
		est = PQresultStatus(res);
		if (est == PGRES_TUPLES_OK)
			continue;
		if (est != PGRES_SINGLE_TUPLE) {
			if (!failed)
				g_set_error(error,
				            FST_ERROR,
				            FST_ERROR_DATABASE,
				            "central registry %s: reading the %s of %s: %s",
				            self->server,
				            what,
				            station,
				            PQresultErrorMessage(res));
			failed = TRUE;
			continue;
		}
		if (!failed && more)
			more = func(res, user_data);
	}
	return !failed;
}

/* checks one certificate of the central copy against what the chain says
 * of it; the first problem goes in @st */
static void
fst_central_audit_cert(FstCentralAuditStation *st,
                       GHashTable *certs,
                       const gchar *serial,
                       const gchar *aws_cert_id,
                       gconstpointer der,
                       gsize der_len,
                       const gchar *state)
{
	FstCentralAuditCert *c = g_hash_table_lookup(certs, serial);
	guint8 sha[32];
	gchar recorded[65];

	if (c == NULL) {
		st->ok = FALSE;
		st->problem = g_strdup_printf("certificate %s has no certificate-issued "
		                              "event in the central chain: inserted centrally",
		                              serial);
		return;
	}
	fst_crypto_sha256(der, der_len, sha);
	fst_crypto_hex_into(recorded, sizeof(recorded), c->sha256, sizeof(c->sha256), FALSE);
	if (!c->sha256_ok || memcmp(sha, c->sha256, sizeof(sha)) != 0 ||
	    g_strcmp0(aws_cert_id, recorded) != 0) {
		st->ok = FALSE;
		st->problem = g_strdup_printf("certificate %s: its central DER is not the one the "
		                              "station recorded (sha256 %s): changed centrally",
		                              serial,
		                              c->sha256_ok ? recorded : "unreadable");
	} else if (g_strcmp0(state, c->state != NULL ? c->state : "issued") != 0) {
		st->ok = FALSE;
		st->problem = g_strdup_printf("certificate %s is %s centrally, its last recorded "
		                              "move is to %s: changed centrally",
		                              serial,
		                              state,
		                              c->state != NULL ? c->state : "issued");
	}
}

typedef struct {
	FstCentralAuditStation *st;
	GHashTable *certs;
} FstCentralAuditCerts;

/* a central certificate (serial_hex, aws_cert_id, der, state) */
static gboolean
fst_central_audit_cert_row(const PGresult *res, gpointer user_data)
{
	FstCentralAuditCerts *ctx = user_data;
	g_autofree gchar *serial = fst_central_bin_text(res, 0);
	g_autofree gchar *aws_cert_id = fst_central_bin_text(res, 1);
	g_autofree gchar *state = fst_central_bin_text(res, 3);

	fst_central_audit_cert(ctx->st,
	                       ctx->certs,
	                       serial,
	                       aws_cert_id,
	                       PQgetvalue(res, 0, 2),
	                       (gsize)PQgetlength(res, 0, 2),
	                       state);
	ctx->st->certificates++;
	return ctx->st->ok;
}

/* a central event, against the chain so far */
typedef struct {
	FstCentralAuditStation *st;
	FstCentralAuditWalk *walk;
	gchar *prev; /* (owned): the hash of the event before */
	gint64 expect;
} FstCentralAuditEvents;

static gboolean
fst_central_audit_event_row(const PGresult *res, gpointer user_data)
{
	FstCentralAuditEvents *ctx = user_data;
	FstCentralAuditStation *st = ctx->st;
	FstAuditEventRow row = {0};
	g_autofree gchar *hash = NULL;
	g_autofree gchar *stored = NULL;

	row.id = fst_central_bin_int(res, 0, 0);
	row.device_id = fst_central_bin_int(res, 0, 1);
	row.station_id = fst_central_bin_int(res, 0, 2);
	row.operator_id = fst_central_bin_int(res, 0, 3);
	row.lot_id = fst_central_bin_int(res, 0, 4);
	row.step = PQgetvalue(res, 0, 5);
	row.step_len = PQgetlength(res, 0, 5);
	row.started_at = fst_central_bin_int(res, 0, 6);
	row.ended_at = fst_central_bin_int(res, 0, 7);
	row.outcome = PQgetvalue(res, 0, 8);
	row.outcome_len = PQgetlength(res, 0, 8);
	if (!PQgetisnull(res, 0, 9)) {
		row.detail = PQgetvalue(res, 0, 9);
		row.detail_len = PQgetlength(res, 0, 9);
	}
	if (!PQgetisnull(res, 0, 11)) {
		row.rows = (const guint8 *)PQgetvalue(res, 0, 11);
		row.rows_len = (gsize)PQgetlength(res, 0, 11);
	}
	stored = fst_audit_hash_from_bytes(PQgetvalue(res, 0, 10), (gsize)PQgetlength(res, 0, 10));
	if (row.id != ctx->expect) {
		st->ok = FALSE;
		st->problem =
		    g_strdup_printf("event %" G_GINT64_FORMAT " follows event %" G_GINT64_FORMAT
		                    " in the central copy: events were deleted or inserted",
		                    row.id,
		                    ctx->expect - 1);
		return FALSE;
	}
	hash = fst_audit_event_hash(ctx->prev, &row);
	if (g_strcmp0(hash, stored) != 0) {
		st->ok = FALSE;
		st->problem = g_strdup_printf("event %" G_GINT64_FORMAT
		                              " (%s) of the central copy does not match the "
		                              "hash the station signed: changed centrally",
		                              row.id,
		                              row.step);
		return FALSE;
	}
	fst_central_audit_note_event(ctx->walk, &row);
	g_free(ctx->prev);
	ctx->prev = g_steal_pointer(&hash);
	ctx->expect++;
	st->events++;
	return TRUE;
}

/* walks one station's central chain and certificates */
static FstCentralAuditStation *
fst_central_audit_one(FstCentral *self,
                      gint64 station_id,
                      const gchar *name,
                      gint64 head_id,
                      const gchar *head_hash,
                      GError **error)
{
	g_autoptr(FstCentralAuditStation) st = g_new0(FstCentralAuditStation, 1);
	g_autoptr(GHashTable) certs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	g_autoptr(GHashTable) states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	FstCentralAuditWalk walk = {.certs = certs, .states = states};
	FstCentralAuditEvents events = {
	    .walk = &walk, .prev = g_strdup(FST_AUDIT_GENESIS), .expect = 1};
	FstCentralAuditCerts cert_ctx = {.certs = certs};
	g_autofree gchar *id_str = g_strdup_printf("%" G_GINT64_FORMAT, station_id);
	g_autofree gchar *prev = NULL;
	gint64 expect;
	gboolean read;

	st->station = g_strdup(name);
	st->ok = TRUE;
	events.st = st;
	cert_ctx.st = st;
	read = fst_central_audit_rows(
	    self,
	    "SELECT local_id, device_local_id, station_local_id, operator_local_id,"
	    " lot_local_id, step, started_at, ended_at, outcome, detail, hash, rows"
	    " FROM events WHERE station_id = $1::bigint ORDER BY local_id",
	    id_str,
	    "events",
	    name,
	    fst_central_audit_event_row,
	    &events,
	    error);
	prev = g_steal_pointer(&events.prev);
	expect = events.expect;
	if (!read)
		return NULL;
	st->head_id = expect - 1;
	st->head_hash = g_strdup(prev);
	if (st->ok &&
	    (st->head_id != head_id || (head_id > 0 && g_strcmp0(prev, head_hash) != 0))) {
		st->ok = FALSE;
		st->problem = g_strdup_printf("the central chain ends at event %" G_GINT64_FORMAT
		                              ", the station shipped up to event %" G_GINT64_FORMAT
		                              " (%s): events were deleted centrally",
		                              st->head_id,
		                              head_id,
		                              head_hash != NULL ? head_hash : "-");
	}
	if (st->ok && !fst_central_audit_rows(self,
	                                      "SELECT serial_hex, aws_cert_id, der, state"
	                                      " FROM certificates"
	                                      " WHERE station_id = $1::bigint ORDER BY local_id",
	                                      id_str,
	                                      "certificates",
	                                      name,
	                                      fst_central_audit_cert_row,
	                                      &cert_ctx,
	                                      error))
		return NULL;
	return g_steal_pointer(&st);
}

/**
 * fst_central_audit:
 * @self: a connection
 * @error: return location for a #GError
 *
 * Checks every station's central copy (see the top of this file).
 *
 * Returns: (transfer container) (element-type FstCentralAuditStation): one
 *   result per station, by name; %NULL when the registry cannot be read
 */
GPtrArray *
fst_central_audit(FstCentral *self, GError **error)
{
	g_autoptr(GPtrArray) out =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_central_audit_station_free);
	g_autoptr(PGresult) res =
	    fst_central_exec(self,
	                     "SELECT id, name, head_id, head_hash FROM stations ORDER BY name",
	                     0,
	                     NULL,
	                     NULL,
	                     NULL,
	                     "listing the stations",
	                     error);
	if (res == NULL)
		return NULL;
	for (gint i = 0; i < PQntuples(res); i++) {
		FstCentralAuditStation *st =
		    fst_central_audit_one(self,
		                          fst_central_get_int(res, i, 0),
		                          PQgetvalue(res, i, 1),
		                          fst_central_get_int(res, i, 2),
		                          PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
		                          error);
		if (st == NULL)
			return NULL;
		g_ptr_array_add(out, st);
	}
	return g_steal_pointer(&out);
}

/* the central copy of a station against its journal, row by row */
typedef struct {
	const gchar *station;
	sqlite3_stmt *stmt; /* the journal's row by id */
	gint64 local_max;   /* the journal's last event */
	gint64 central_events;
	gchar *problem; /* (owned) (nullable): the first difference */
} FstCentralJournal;

/* a central event (local_id, hash): the journal's has the same hash */
static gboolean
fst_central_journal_event_row(const PGresult *res, gpointer user_data)
{
	FstCentralJournal *ctx = user_data;
	gint64 id = fst_central_bin_int(res, 0, 0);
	g_autofree gchar *central =
	    fst_audit_hash_from_bytes(PQgetvalue(res, 0, 1), (gsize)PQgetlength(res, 0, 1));
	g_autofree gchar *local = NULL;

	ctx->central_events++;
	sqlite3_reset(ctx->stmt);
	sqlite3_bind_int64(ctx->stmt, 1, id);
	if (sqlite3_step(ctx->stmt) == SQLITE_ROW)
		local = fst_audit_hash_from_bytes(sqlite3_column_blob(ctx->stmt, 0),
		                                  (gsize)sqlite3_column_bytes(ctx->stmt, 0));
	if (g_strcmp0(local, central) == 0)
		return TRUE;
	ctx->problem = g_strdup_printf("event %" G_GINT64_FORMAT
	                               " of station %s: the central copy has hash %s, "
	                               "the station's journal %s",
	                               id,
	                               ctx->station,
	                               central != NULL ? central : "none",
	                               local != NULL ? local : "no such event");
	return FALSE;
}

/* a central certificate (local_id, serial_hex, der, state): the journal's
 * has the same DER and, once nothing is left to ship, the same state */
static gboolean
fst_central_journal_cert_row(const PGresult *res, gpointer user_data)
{
	FstCentralJournal *ctx = user_data;
	g_autofree gchar *serial = fst_central_bin_text(res, 1);
	g_autofree gchar *central_state = fst_central_bin_text(res, 3);
	gsize der_len = (gsize)PQgetlength(res, 0, 2);
	const gchar *state = NULL;
	gboolean same_der = FALSE;

	sqlite3_reset(ctx->stmt);
	sqlite3_bind_int64(ctx->stmt, 1, fst_central_bin_int(res, 0, 0));
	if (sqlite3_step(ctx->stmt) == SQLITE_ROW) {
		same_der = (gsize)sqlite3_column_bytes(ctx->stmt, 0) == der_len &&
		           (der_len == 0 || memcmp(sqlite3_column_blob(ctx->stmt, 0),
		                                   PQgetvalue(res, 0, 2),
		                                   der_len) == 0);
		state = (const gchar *)sqlite3_column_text(ctx->stmt, 1);
	}
	if (!same_der) {
		ctx->problem = g_strdup_printf("certificate %s of station %s: the central DER "
		                               "differs from the station's journal",
		                               serial,
		                               ctx->station);
		return FALSE;
	}
	if (ctx->central_events == ctx->local_max && g_strcmp0(state, central_state) != 0) {
		ctx->problem = g_strdup_printf("certificate %s of station %s is %s centrally and "
		                               "%s in the station's journal",
		                               serial,
		                               ctx->station,
		                               central_state,
		                               state);
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_central_compare_journal:
 * @self: a connection
 * @db_path: the station's SQLite file
 * @station: the station's name in the registry
 * @problem: (out) (transfer full): %NULL when the copies agree, else what
 *   differs
 * @error: return location for a #GError
 *
 * Compares the central copy of a station with its journal: every event the
 * registry holds has the hash the station's file has at that id, and every
 * certificate has the same DER and, once nothing is left to ship, the same
 * state. Events not shipped yet are not a difference.
 *
 * Returns: %TRUE when both could be read (see @problem)
 */
gboolean
fst_central_compare_journal(
    FstCentral *self, const gchar *db_path, const gchar *station, gchar **problem, GError **error)
{
	g_autoptr(sqlite3) ro = _fst_db_connect_read_only(db_path, error);
	g_autoptr(sqlite3_stmt) ev = NULL;
	g_autoptr(sqlite3_stmt) cert = NULL;
	FstCentralJournal ctx = {.station = station};

	*problem = NULL;
	if (ro == NULL)
		return FALSE;
	if (sqlite3_exec(ro, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ro, "SELECT hash FROM events WHERE id = ?1", -1, &ev, NULL) !=
	        SQLITE_OK ||
	    sqlite3_prepare_v2(
	        ro, "SELECT c.der, c.state FROM certificates c WHERE c.id = ?1", -1, &cert, NULL) !=
	        SQLITE_OK) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "reading %s: %s",
		            db_path,
		            sqlite3_errmsg(ro));
		return FALSE;
	}
	{
		g_autoptr(sqlite3_stmt) q = NULL;
		if (sqlite3_prepare_v2(
		        ro, "SELECT coalesce(max(id), 0) FROM events", -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW)
			ctx.local_max = sqlite3_column_int64(q, 0);
	}
	ctx.stmt = ev;
	if (!fst_central_audit_rows(self,
	                            "SELECT e.local_id, e.hash FROM events e"
	                            " JOIN stations s ON s.id = e.station_id WHERE s.name = $1"
	                            " ORDER BY e.local_id",
	                            station,
	                            "events",
	                            station,
	                            fst_central_journal_event_row,
	                            &ctx,
	                            error))
		return FALSE;
	ctx.stmt = cert;
	if (ctx.problem == NULL &&
	    !fst_central_audit_rows(self,
	                            "SELECT c.local_id, c.serial_hex, c.der, c.state"
	                            " FROM certificates c JOIN stations s ON s.id = c.station_id"
	                            " WHERE s.name = $1 ORDER BY c.local_id",
	                            station,
	                            "certificates",
	                            station,
	                            fst_central_journal_cert_row,
	                            &ctx,
	                            error))
		return FALSE;
	*problem = g_steal_pointer(&ctx.problem);
	return TRUE;
}
