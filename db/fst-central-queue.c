/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registration queue, worked centrally (db/central.md, "Registration
 * queue"): the stations ship their `registrations` rows with the sync; one
 * or several registrars claim pending rows with FOR UPDATE SKIP LOCKED (two
 * registrars never get the same row, and neither waits for the other), do
 * the cloud call, and complete them. A claim not completed or renewed before
 * its lease ends (a registrar that died) is handed out again.
 */

#define G_LOG_DOMAIN "FstCentral"

#include "fst-config.h"

#include "fst-central-private.h"
#include "fst-error.h"

/* a claim not renewed for this long is taken to be lost, by default */
#define FST_CENTRAL_CLAIM_LEASE_US ((gint64)600 * G_USEC_PER_SEC)
/* after this many failed attempts a row stays `failed` for an operator */
#define FST_CENTRAL_MAX_ATTEMPTS 5

void
fst_central_registration_free(FstCentralRegistration *self)
{
	if (self == NULL)
		return;
	g_free(self->station);
	g_free(self->device_uid);
	g_free(self->serial_hex);
	g_free(self->issuer_sha256);
	g_free(self->lot);
	g_free(self->remote_id);
	g_free(self->aws_cert_id);
	g_free(self->target);
	g_free(self->action);
	if (self->der != NULL)
		g_bytes_unref(self->der);
	g_free(self);
}

/* one row of fst_central_claim_registrations() */
static gpointer
fst_central_registration_from_row(const PGresult *res, gint i)
{
	FstCentralRegistration *r = g_new0(FstCentralRegistration, 1);
	r->id = fst_central_get_int(res, i, 0);
	r->station = fst_central_get_text(res, i, 1);
	r->serial_hex = fst_central_get_text(res, i, 2);
	r->aws_cert_id = fst_central_get_text(res, i, 3);
	r->target = fst_central_get_text(res, i, 4);
	r->action = fst_central_get_text(res, i, 5);
	r->attempts = (gint)fst_central_get_int(res, i, 6);
	r->der = fst_central_get_bytea(res, i, 7);
	r->device_uid = fst_central_get_text(res, i, 8);
	r->issuer_sha256 = fst_central_get_text(res, i, 9);
	r->lot = fst_central_get_text(res, i, 10);
	r->remote_id = fst_central_get_text(res, i, 11);
	return r;
}

/**
 * fst_central_claim_registrations:
 * @self: a connection
 * @registrar: who claims (a name in the queue, for operators; each registrar
 *   running at a time needs its own)
 * @target: (nullable): the registrar's target, e.g. `aws-iot:eu-west-1`
 *   (fst_aws_iot_target()): only rows of @target and rows of `*` are claimed,
 *   the rule of the station's queue (fst_db_queue_set_target()), so that a
 *   registrar never registers a certificate in another region; %NULL: every
 *   target
 * @action: (nullable): `register`, `deactivate` or `revoke`, %NULL for all
 * @limit: at most this many rows
 * @lease_us: how long the claim is @registrar's unless renewed
 *   (fst_central_renew_registration()); 0 for 10 minutes
 * @error: return location for a #GError
 *
 * Claims due rows of the central queue for @target, oldest first, skipping
 * those another registrar holds: `pending` rows whose next attempt is due,
 * and rows in progress whose claim ran out (a registrar that died: the row
 * comes back with its attempts above 1, so that the next one asks the cloud
 * first). A deactivation or a revocation waits while its certificate's
 * registration is not over, so that no registrar turns a certificate
 * inactive or revoked at AWS before another one has registered it. Each claimed row is
 * `in-progress` with its attempt counted, in a transaction of its own: end each with
 * fst_central_complete_registration() or fst_central_defer_registration().
 *
 * Returns: (transfer container) (element-type FstCentralRegistration): the
 *   claimed rows (empty when none is due), or %NULL
 */
GPtrArray *
fst_central_claim_registrations(FstCentral *self,
                                const gchar *registrar,
                                const gchar *target,
                                const gchar *action,
                                guint limit,
                                gint64 lease_us,
                                GError **error)
{
	g_autofree gchar *limit_str = g_strdup_printf("%u", limit > 0 ? limit : 1);
	g_autofree gchar *lease_str = g_strdup_printf(
	    "%" G_GINT64_FORMAT, lease_us > 0 ? lease_us : FST_CENTRAL_CLAIM_LEASE_US);
	const gchar *params[] = {registrar, action, limit_str, lease_str, target};

	return fst_central_exec_rows(
	    self,
	    "WITH q AS (SELECT id FROM registrations r"
	    "   WHERE ($2::text IS NULL OR action = $2)"
	    "   AND ($5::text IS NULL OR target = $5 OR target = '*')"
	    "   AND state IN ('pending', 'in-progress')"
	    "   AND coalesce(next_attempt_at, '-infinity') <= now()"
	    "   AND NOT (action IN ('deactivate', 'revoke') AND EXISTS (SELECT 1"
	    "     FROM registrations g"
	    "     WHERE g.station_id = r.station_id"
	    "     AND g.certificate_local_id = r.certificate_local_id"
	    "     AND g.action = 'register' AND g.state IN ('pending', 'in-progress')))"
	    "   ORDER BY id LIMIT $3::integer FOR UPDATE SKIP LOCKED),"
	    " u AS (UPDATE registrations r SET state = 'in-progress', claimed_by = $1,"
	    "   claimed_at = now(), attempts = r.attempts + 1, updated_at = now(),"
	    "   next_attempt_at = now() + $4::bigint * interval '1 microsecond'"
	    "   FROM q WHERE r.id = q.id RETURNING r.*)"
	    " SELECT u.id, s.name, c.serial_hex, c.aws_cert_id, u.target, u.action, u.attempts,"
	    "  c.der, c.device_uid, c.issuer_sha256, c.lot, u.remote_id"
	    " FROM u JOIN stations s ON s.id = u.station_id"
	    " LEFT JOIN certificates c ON c.station_id = u.station_id"
	    "   AND c.local_id = u.certificate_local_id"
	    " ORDER BY u.id",
	    5,
	    params,
	    fst_central_registration_from_row,
	    (GDestroyNotify)fst_central_registration_free,
	    "claiming registrations",
	    error);
}

/* one UPDATE of a row @registrar holds ($1 the row, $2 the registrar, then
 * @n_args of @arg3, @arg4, @arg5); NOT_FOUND when it no longer holds it */
static gboolean
fst_central_registration_update(FstCentral *self,
                                gint64 id,
                                const gchar *registrar,
                                const gchar *sql,
                                gint n_args,
                                const gchar *arg3,
                                const gchar *arg4,
                                const gchar *arg5,
                                const gchar *what,
                                GError **error)
{
	g_autofree gchar *id_str = g_strdup_printf("%" G_GINT64_FORMAT, id);
	const gchar *params[] = {id_str, registrar, arg3, arg4, arg5};
	g_autoptr(PGresult) res = NULL;

	res = fst_central_exec(self, sql, 2 + n_args, params, NULL, NULL, what, error);
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

#define FST_CENTRAL_CLAIMED " WHERE id = $1::bigint AND claimed_by = $2 AND state = 'in-progress'"

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
	g_autofree gchar *max_str = g_strdup_printf("%d", FST_CENTRAL_MAX_ATTEMPTS);

	return fst_central_registration_update(
	    self,
	    id,
	    registrar,
	    "UPDATE registrations SET"
	    "  state = CASE WHEN $4::text IS NULL THEN 'done'"
	    "    WHEN attempts >= $5::integer THEN 'failed' ELSE 'pending' END,"
	    "  remote_id = coalesce($3, remote_id), last_error = $4,"
	    "  claimed_by = NULL, next_attempt_at = NULL, updated_at = now()" FST_CENTRAL_CLAIMED,
	    3,
	    remote_id,
	    failure,
	    max_str,
	    "completing a registration",
	    error);
}

/**
 * fst_central_defer_registration:
 * @self: a connection
 * @id: the row, from fst_central_claim_registrations()
 * @registrar: who claimed it
 * @failure: why the cloud call failed
 * @delay_us: when to try again, from now; negative: never (`failed`, for an
 *   operator)
 * @error: return location for a #GError
 *
 * Ends a claim after a failure, the registrar deciding what comes next: the
 * row is due again after @delay_us, or stays `failed`.
 *
 * Returns: %TRUE on success; %FALSE with %FST_ERROR_NOT_FOUND when the
 *   claim is no longer @registrar's
 */
gboolean
fst_central_defer_registration(FstCentral *self,
                               gint64 id,
                               const gchar *registrar,
                               const gchar *failure,
                               gint64 delay_us,
                               GError **error)
{
	g_autofree gchar *delay_str = g_strdup_printf("%" G_GINT64_FORMAT, delay_us);

	return fst_central_registration_update(
	    self,
	    id,
	    registrar,
	    "UPDATE registrations SET"
	    "  state = CASE WHEN $4::bigint < 0 THEN 'failed' ELSE 'pending' END,"
	    "  next_attempt_at = CASE WHEN $4::bigint < 0 THEN NULL"
	    "    ELSE now() + $4::bigint * interval '1 microsecond' END,"
	    "  last_error = $3, claimed_by = NULL, updated_at = now()" FST_CENTRAL_CLAIMED,
	    2,
	    failure,
	    delay_str,
	    NULL,
	    "putting a registration back",
	    error);
}

/**
 * fst_central_renew_registration:
 * @self: a connection
 * @id: the row, from fst_central_claim_registrations()
 * @registrar: who claimed it
 * @remote_id: (nullable): what the cloud calls it, once known
 * @lease_us: the claim is @registrar's for this long from now
 * @error: return location for a #GError
 *
 * Keeps a claim (a registrar half way through a row's cloud calls) and
 * records what the cloud calls the row's certificate.
 *
 * Returns: %TRUE on success; %FALSE with %FST_ERROR_NOT_FOUND when the
 *   claim is no longer @registrar's
 */
gboolean
fst_central_renew_registration(FstCentral *self,
                               gint64 id,
                               const gchar *registrar,
                               const gchar *remote_id,
                               gint64 lease_us,
                               GError **error)
{
	g_autofree gchar *lease_str = g_strdup_printf(
	    "%" G_GINT64_FORMAT, lease_us > 0 ? lease_us : FST_CENTRAL_CLAIM_LEASE_US);

	return fst_central_registration_update(
	    self,
	    id,
	    registrar,
	    "UPDATE registrations SET remote_id = coalesce($3, remote_id), updated_at = now(),"
	    "  next_attempt_at = now() + $4::bigint * interval '1 microsecond'" FST_CENTRAL_CLAIMED,
	    2,
	    remote_id,
	    lease_str,
	    NULL,
	    "renewing a registration claim",
	    error);
}

/**
 * fst_central_count_registrations:
 * @self: a connection
 * @counts: (out caller-allocates) (array fixed-size=4): rows `pending`,
 *   `in-progress`, `done` and `failed`
 * @error: return location for a #GError
 *
 * Counts the central queue by state (every station's rows).
 *
 * Returns: %TRUE on success
 */
gboolean
fst_central_count_registrations(FstCentral *self, gint64 counts[4], GError **error)
{
	g_autoptr(PGresult) res = fst_central_exec(
	    self,
	    "SELECT count(*) FILTER (WHERE state = 'pending'),"
	    " count(*) FILTER (WHERE state = 'in-progress'),"
	    " count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'failed')"
	    " FROM registrations",
	    0,
	    NULL,
	    NULL,
	    NULL,
	    "counting registrations",
	    error);

	if (res == NULL)
		return FALSE;
	for (gint i = 0; i < 4; i++)
		counts[i] = fst_central_get_int(res, 0, i);
	return TRUE;
}
