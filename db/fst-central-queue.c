/*
 * The registration queue, worked centrally (db/central.md, "Registration
 * queue"): the stations ship their `registrations` rows with the sync; one
 * or several registrars claim pending rows with FOR UPDATE SKIP LOCKED (two
 * registrars never get the same row, and neither waits for the other), do
 * the cloud call, and complete them. A claim not completed within
 * FST_CENTRAL_CLAIM_LEASE (a registrar that died) is handed out again.
 */

#define G_LOG_DOMAIN "FstCentral"

#include "fst-config.h"

#include "fst-central-private.h"
#include "fst-error.h"

/* a claim older than this is taken to be lost */
#define FST_CENTRAL_CLAIM_LEASE "10 minutes"
/* after this many failed attempts a row stays `failed` for an operator */
#define FST_CENTRAL_MAX_ATTEMPTS 5

void
fst_central_registration_free(FstCentralRegistration *self)
{
	if (self == NULL)
		return;
	g_free(self->station);
	g_free(self->serial_hex);
	g_free(self->aws_cert_id);
	g_free(self->target);
	g_free(self->action);
	if (self->der != NULL)
		g_bytes_unref(self->der);
	if (self->ca_der != NULL)
		g_bytes_unref(self->ca_der);
	g_free(self);
}

/**
 * fst_central_claim_registrations:
 * @self: a connection
 * @registrar: who claims (a name in the queue, for operators)
 * @action: (nullable): `register` or `deactivate`, %NULL for both
 * @limit: at most this many rows
 * @error: return location for a #GError
 *
 * Claims pending rows of the central queue, oldest first, skipping those
 * another registrar holds. Each claimed row is `in-progress` with its
 * attempt counted, in a transaction of its own: complete each with
 * fst_central_complete_registration().
 *
 * Returns: (transfer container) (element-type FstCentralRegistration): the
 *   claimed rows (empty when none is pending), or %NULL
 */
GPtrArray *
fst_central_claim_registrations(
    FstCentral *self, const gchar *registrar, const gchar *action, guint limit, GError **error)
{
	g_autoptr(GPtrArray) out =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_central_registration_free);
	g_autofree gchar *limit_str = g_strdup_printf("%u", limit > 0 ? limit : 1);
	const gchar *params[] = {registrar, action, limit_str};
	g_autoptr(PGresult) res = NULL;

	res = fst_central_exec(
	    self,
	    "WITH q AS (SELECT id FROM registrations"
	    "   WHERE ($2::text IS NULL OR action = $2) AND (state = 'pending'"
	    "     OR (state = 'in-progress' AND claimed_at < now() - interval "
	    "'" FST_CENTRAL_CLAIM_LEASE "'))"
	    "   ORDER BY id LIMIT $3::integer FOR UPDATE SKIP LOCKED),"
	    " u AS (UPDATE registrations r SET state = 'in-progress', claimed_by = $1,"
	    "   claimed_at = now(), attempts = r.attempts + 1, updated_at = now()"
	    "   FROM q WHERE r.id = q.id RETURNING r.*)"
	    " SELECT u.id, s.name, c.serial_hex, c.aws_cert_id, u.target, u.action, u.attempts, "
	    "c.der"
	    " FROM u JOIN stations s ON s.id = u.station_id"
	    " LEFT JOIN certificates c ON c.station_id = u.station_id"
	    "   AND c.local_id = u.certificate_local_id"
	    " ORDER BY u.id",
	    3,
	    params,
	    NULL,
	    NULL,
	    "claiming registrations",
	    error);
	if (res == NULL)
		return NULL;
	for (gint i = 0; i < PQntuples(res); i++) {
		FstCentralRegistration *r = g_new0(FstCentralRegistration, 1);
		r->id = fst_central_get_int(res, i, 0);
		r->station = fst_central_get_text(res, i, 1);
		r->serial_hex = fst_central_get_text(res, i, 2);
		r->aws_cert_id = fst_central_get_text(res, i, 3);
		r->target = fst_central_get_text(res, i, 4);
		r->action = fst_central_get_text(res, i, 5);
		r->attempts = (gint)fst_central_get_int(res, i, 6);
		r->der = fst_central_get_bytea(res, i, 7);
		g_ptr_array_add(out, r);
	}
	return g_steal_pointer(&out);
}

/**
 * fst_central_complete_registration:
 * @self: a connection
 * @id: the row, from fst_central_claim_registrations()
 * @registrar: who claimed it
 * @remote_id: (nullable): what the cloud calls it (the certificate ARN)
 * @failure: (nullable): why the cloud call failed, %NULL for success
 * @error: return location for a #GError
 *
 * Ends a claim: `done`, or back to `pending` for another attempt after a
 * failure (`failed` after FST_CENTRAL_MAX_ATTEMPTS).
 *
 * Returns: %TRUE on success; %FALSE with %FST_ERROR_NOT_FOUND when the
 *   claim is no longer @registrar's (its lease ran out and another took it)
 */
gboolean
fst_central_complete_registration(FstCentral *self,
                                  gint64 id,
                                  const gchar *registrar,
                                  const gchar *remote_id,
                                  const gchar *failure,
                                  GError **error)
{
	g_autofree gchar *id_str = g_strdup_printf("%" G_GINT64_FORMAT, id);
	g_autofree gchar *max_str = g_strdup_printf("%d", FST_CENTRAL_MAX_ATTEMPTS);
	const gchar *params[] = {id_str, registrar, remote_id, failure, max_str};
	g_autoptr(PGresult) res = NULL;

	res =
	    fst_central_exec(self,
	                     "UPDATE registrations SET"
	                     "  state = CASE WHEN $4::text IS NULL THEN 'done'"
	                     "    WHEN attempts >= $5::integer THEN 'failed' ELSE 'pending' END,"
	                     "  remote_id = coalesce($3, remote_id), last_error = $4,"
	                     "  claimed_by = NULL, updated_at = now()"
	                     " WHERE id = $1::bigint AND claimed_by = $2 AND state = 'in-progress'",
	                     5,
	                     params,
	                     NULL,
	                     NULL,
	                     "completing a registration",
	                     error);
	if (res == NULL)
		return FALSE;
	if (g_strcmp0(PQcmdTuples(res), "1") != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "central registration %" G_GINT64_FORMAT
		            " is not claimed by %s any more: another registrar took it over",
		            id,
		            registrar);
		return FALSE;
	}
	return TRUE;
}
