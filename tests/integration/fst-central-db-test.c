/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The central registry's database side against a real PostgreSQL server
 * started by the test (fst-central-pg.sh): the connection setting, the
 * schema ladder, the uniqueness constraints, reservations, the central
 * registration queue, and the password a server wants asked through the
 * station's interaction. Exits 77 without the server binaries.
 */

#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

#include "fst-central-private.h"
#include "fst-central-station.h"
#include "fst-error.h"
#include "fst-test-pki.h"

static gchar *conninfo = NULL;
static gchar *tls_dir = NULL;
static gchar *pg_data = NULL;

static FstCentral *
fst_test_connect(void)
{
	g_autoptr(GError) error = NULL;
	FstCentral *central = fst_central_connect(conninfo, &error);
	g_assert_no_error(error);
	g_assert_nonnull(central);
	return central;
}

static void
fst_test_sql(FstCentral *central, const gchar *sql)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(fst_central_exec_simple(central, sql, sql, &error));
	g_assert_no_error(error);
}

static gint64
fst_test_int(FstCentral *central, const gchar *sql)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PGresult) res = fst_central_exec(central, sql, 0, NULL, NULL, NULL, sql, &error);
	g_assert_no_error(error);
	return fst_central_get_int(res, 0, 0);
}

static void
fst_central_conninfo_test(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *svc = NULL;
	g_autofree gchar *tls = NULL;
	g_autofree gchar *pw = NULL;

	/* a bare word is a service name */
	svc = fst_central_normalize_conninfo("fleet_central", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(svc, ==, "service=fleet_central");
	/* TLS options pass through unchanged */
	tls = fst_central_normalize_conninfo(
	    "host=db.example dbname=fleet sslmode=verify-full sslrootcert=/etc/ca.pem", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(
	    tls, ==, "host=db.example dbname=fleet sslmode=verify-full sslrootcert=/etc/ca.pem");
	/* never a password, in either form */
	pw = fst_central_normalize_conninfo("host=db dbname=fleet password=hunter2", &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "pgpass"));
	g_assert_null(pw);
	g_clear_error(&error);
	pw = fst_central_normalize_conninfo("postgresql://fst:hunter2@db/fleet", &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_null(pw);
	g_clear_error(&error);
	pw = fst_central_normalize_conninfo("host=db dbname='unterminated", &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);
	/* unreachable: DISCONNECTED, which the station treats as offline */
	{
		g_autoptr(FstCentral) c =
		    fst_central_connect("host=127.0.0.1 port=1 dbname=x connect_timeout=2", &error);
		g_assert_null(c);
		g_assert_error(error, FST_ERROR, FST_ERROR_DISCONNECTED);
	}
}

/* sslmode=verify-full goes to libpq as given: the server's certificate is
 * checked against sslrootcert and its name against the host */
static void
fst_central_tls_test(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *ca = g_build_filename(tls_dir, "ca.crt", NULL);
	g_autofree gchar *other_ca = g_build_filename(tls_dir, "other-ca.crt", NULL);
	g_autofree gchar *good =
	    g_strdup_printf("%s sslmode=verify-full sslrootcert=%s", conninfo, ca);
	g_autofree gchar *wrong_ca =
	    g_strdup_printf("%s sslmode=verify-full sslrootcert=%s", conninfo, other_ca);
	g_autofree gchar *wrong_host = NULL;
	g_autofree gchar *cmd = g_strdup_printf(
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
	    "-subj /CN=other -keyout %s/other-ca.key -out %s",
	    tls_dir,
	    other_ca);
	g_autoptr(FstCentral) central = NULL;
	g_autoptr(FstCentral) refused = NULL;
	g_autofree gchar *cmd_out = NULL;
	g_autofree gchar *cmd_err = NULL;
	gint status = 0;

	central = fst_central_connect(good, &error);
	g_assert_no_error(error);
	g_assert_cmpint(
	    fst_test_int(central,
	                 "SELECT ssl::integer FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
	    ==,
	    1);
	/* a server certificate from another CA */
	g_assert_true(g_spawn_command_line_sync(cmd, &cmd_out, &cmd_err, &status, NULL));
	g_assert_cmpint(status, ==, 0);
	refused = fst_central_connect(wrong_ca, &error);
	g_assert_null(refused);
	g_assert_error(error, FST_ERROR, FST_ERROR_DISCONNECTED);
	g_assert_nonnull(strstr(error->message, "certificate verify failed"));
	g_clear_error(&error);
	/* a name the certificate does not carry */
	wrong_host = g_strdup_printf(
	    "%s host=localhost hostaddr=127.0.0.1 sslmode=verify-full sslrootcert=%s",
	    conninfo,
	    ca);
	refused = fst_central_connect(wrong_host, &error);
	g_assert_null(refused);
	g_assert_error(error, FST_ERROR, FST_ERROR_DISCONNECTED);
	g_assert_nonnull(strstr(error->message, "localhost"));
}

static gpointer
fst_central_migrate_thread(gpointer data)
{
	g_autoptr(FstCentral) central = fst_test_connect();
	g_autoptr(GError) error = NULL;
	guint from = 0, to = 0;

	(void)data;
	g_assert_true(fst_central_migrate(central, &from, &to, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(to, ==, FST_CENTRAL_SCHEMA_VERSION);
	return NULL;
}

static void
fst_central_migrate_test(void)
{
	g_autoptr(FstCentral) central = fst_test_connect();
	g_autoptr(GError) error = NULL;
	GThread *threads[4];
	guint version = 99, from = 0, to = 0;

	fst_test_sql(central, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	g_assert_true(fst_central_get_schema_version(central, &version, &error));
	g_assert_cmpuint(version, ==, 0);
	g_assert_false(fst_central_check_schema(central, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "central init"));
	g_clear_error(&error);

	/* several stations migrating at once: each version once */
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		threads[i] = g_thread_new("migrate", fst_central_migrate_thread, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		g_thread_join(threads[i]);
	g_assert_cmpint(fst_test_int(central, "SELECT count(*) FROM fst_central_migrations"),
	                ==,
	                FST_CENTRAL_SCHEMA_VERSION);
	g_assert_true(fst_central_check_schema(central, &error));
	g_assert_no_error(error);

	/* again: nothing to do */
	g_assert_true(fst_central_migrate(central, &from, &to, &error));
	g_assert_cmpuint(from, ==, FST_CENTRAL_SCHEMA_VERSION);
	g_assert_cmpuint(to, ==, FST_CENTRAL_SCHEMA_VERSION);

	/* a newer schema is refused and left alone */
	fst_test_sql(
	    central,
	    "INSERT INTO fst_central_migrations (version, software_version) VALUES (99, 'future')");
	g_assert_false(fst_central_migrate(central, NULL, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "update fleetstation"));
	g_clear_error(&error);
	g_assert_cmpint(fst_test_int(central, "SELECT count(*) FROM fst_central_migrations"),
	                ==,
	                FST_CENTRAL_SCHEMA_VERSION + 1);
	fst_test_sql(central, "DELETE FROM fst_central_migrations WHERE version = 99");

	/* from version 1 with rows: a claim made before keeps its 10 minutes, and a
	 * take-over after queues the deactivation of the certificate taken over */
	fst_test_sql(central, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	g_assert_true(fst_central_migrate_to(central, 1, &from, &to, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(to, ==, 1);
	fst_test_sql(
	    central,
	    "INSERT INTO stations (name) VALUES ('A'), ('B');"
	    "INSERT INTO certificates (station_id, local_id, device_local_id, device_uid,"
	    " serial_hex, issuer_sha256, aws_cert_id, der, state, slot, created_at, updated_at)"
	    " SELECT id, 1, 1, 'DEV-M', '01', 'ca', 'x', '\\x3082', 'verified', 0, 0, 0"
	    " FROM stations WHERE name = 'A';"
	    "INSERT INTO registrations (station_id, local_id, certificate_local_id, target, action,"
	    " state, claimed_by, claimed_at, attempts, created_at)"
	    " SELECT id, 1, 1, 'aws-iot:1:eu-west-1', 'register', 'in-progress', 'old',"
	    " now() - interval '1 minute', 1, 0 FROM stations WHERE name = 'A'");
	g_assert_true(fst_central_migrate(central, &from, &to, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(from, ==, 1);
	g_assert_cmpuint(to, ==, FST_CENTRAL_SCHEMA_VERSION);
	{
		g_autoptr(GPtrArray) rows =
		    fst_central_claim_registrations(central, "new", NULL, NULL, 10, 0, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(rows->len, ==, 0);
	}
	g_assert_true(
	    fst_central_complete_registration(central,
	                                      fst_test_int(central, "SELECT id FROM registrations"),
	                                      "old",
	                                      "arn:m",
	                                      NULL,
	                                      &error));
	g_assert_no_error(error);
	g_assert_true(fst_central_handover(central, "DEV-M", "A", "01", "B", &error));
	fst_test_sql(
	    central,
	    "INSERT INTO certificates (station_id, local_id, device_local_id, device_uid,"
	    " serial_hex, issuer_sha256, aws_cert_id, der, state, slot, created_at, updated_at)"
	    " SELECT id, 1, 1, 'DEV-M', '02', 'ca', 'y', '\\x3082', 'verified', 1, 0, 0"
	    " FROM stations WHERE name = 'B'");
	g_assert_cmpint(fst_test_int(central,
	                             "SELECT count(*) FROM certificates WHERE serial_hex = '01'"
	                             " AND superseded_by = 'B 02'"),
	                ==,
	                1);
	g_assert_cmpint(
	    fst_test_int(central,
	                 "SELECT count(*) FROM registrations r JOIN stations s"
	                 " ON s.id = r.station_id WHERE s.name = 'A'"
	                 " AND r.action = 'deactivate' AND r.local_id IS NULL"
	                 " AND r.certificate_local_id = 1"
	                 " AND r.target = 'aws-iot:1:eu-west-1' AND r.state = 'pending'"),
	    ==,
	    1);
}

/* the uniqueness rules hold in the database itself, whatever a client does */
static void
fst_central_constraints_test(void)
{
	g_autoptr(FstCentral) central = fst_test_connect();
	g_autoptr(GError) error = NULL;
#define FST_TEST_INSERT_CERT                                                                       \
	"INSERT INTO certificates (station_id, local_id, device_local_id, device_uid, serial_hex," \
	" issuer_sha256, aws_cert_id, der, state, slot, created_at, updated_at)"                   \
	" SELECT id, %d, 1, '%s', '%s', 'ca1', 'x', '\\x30', '%s', 0, 0, 0 FROM stations"          \
	" WHERE name = '%s'"
	g_autofree gchar *a =
	    g_strdup_printf(FST_TEST_INSERT_CERT, 1, "DEV-1", "01", "verified", "A");
	g_autofree gchar *b_serial =
	    g_strdup_printf(FST_TEST_INSERT_CERT, 2, "DEV-2", "01", "issued", "B");
	g_autofree gchar *b_service =
	    g_strdup_printf(FST_TEST_INSERT_CERT, 3, "DEV-1", "02", "verified", "B");
	g_autofree gchar *b_other_ca = NULL;

	fst_test_sql(central, "TRUNCATE stations, certificates, conflicts, reservations CASCADE");
	fst_test_sql(central, "INSERT INTO stations (name) VALUES ('A'), ('B')");
	fst_test_sql(central, a);
	/* the same serial of the same CA from another station */
	g_assert_false(fst_central_exec_simple(central, b_serial, "serial twice", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
	g_assert_nonnull(strstr(error->message, "certificates_serial"));
	g_clear_error(&error);
	/* a second certificate in service for the device */
	g_assert_false(fst_central_exec_simple(central, b_service, "in service twice", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
	g_assert_nonnull(strstr(error->message, "certificates_in_service"));
	g_clear_error(&error);
	/* the same serial of another CA is another certificate */
	b_other_ca =
	    g_strdup_printf("INSERT INTO certificates (station_id, local_id, device_local_id, "
	                    "device_uid, serial_hex,"
	                    " issuer_sha256, aws_cert_id, der, state, slot, created_at, updated_at)"
	                    " SELECT id, 4, 1, 'DEV-4', '01', 'ca2', 'x', '\\x30', 'verified', 0, "
	                    "0, 0 FROM stations"
	                    " WHERE name = 'B'");
	fst_test_sql(central, b_other_ca);
	/* what the sync writes instead: flagged by the registry, listed once */
	fst_test_sql(
	    central,
	    "INSERT INTO certificates (station_id, local_id, device_local_id, device_uid,"
	    " serial_hex, issuer_sha256, aws_cert_id, der, state, slot, created_at, updated_at,"
	    " conflict) SELECT id, 3, 1, 'DEV-1', '02', 'ca1', 'x', '\\x30', 'verified', 0, 0, 0,"
	    " fst_certificate_conflict(id, 3, 'ca1', '02', 'DEV-1', 'verified', NULL) FROM stations"
	    " WHERE name = 'B'");
	g_assert_cmpint(
	    fst_test_int(central,
	                 "SELECT count(*) FROM conflicts WHERE kind = 'in-service' AND"
	                 " station = 'B' AND other_station = 'A' AND device_uid = 'DEV-1'"),
	    ==,
	    1);
	{
		g_autoptr(GPtrArray) conflicts = fst_central_list_conflicts(central, &error);
		FstCentralConflict *c;
		g_assert_no_error(error);
		g_assert_cmpuint(conflicts->len, ==, 1);
		c = g_ptr_array_index(conflicts, 0);
		g_assert_cmpstr(c->serial_hex, ==, "02");
		g_assert_nonnull(strstr(c->detail, "in service from station A"));
	}

	/* one key, one device: another device's certificate for a key is
	 * flagged; the same device's (a renewal, a take-over) is not */
	fst_test_sql(central,
	             "UPDATE certificates SET key_sha256 = 'k1' WHERE device_uid = 'DEV-1'"
	             " AND conflict IS NULL");
#define FST_TEST_INSERT_KEYED                                                                      \
	"INSERT INTO certificates (station_id, local_id, device_local_id, device_uid, serial_hex," \
	" issuer_sha256, aws_cert_id, der, state, slot, created_at, updated_at, key_sha256,"       \
	" conflict) SELECT id, %d, 1, '%s', '%s', 'ca2', 'x', '\\x30', 'issued', 0, 0, 0, 'k1',"   \
	" fst_certificate_conflict(id, %d, 'ca2', '%s', '%s', 'issued', 'k1') FROM stations"       \
	" WHERE name = 'B'"
	{
		g_autofree gchar *clone =
		    g_strdup_printf(FST_TEST_INSERT_KEYED, 5, "DEV-5", "05", 5, "05", "DEV-5");
		g_autofree gchar *renewal =
		    g_strdup_printf(FST_TEST_INSERT_KEYED, 6, "DEV-1", "06", 6, "06", "DEV-1");
		fst_test_sql(central, clone);
		fst_test_sql(central, renewal);
		g_assert_cmpint(fst_test_int(central,
		                             "SELECT count(*) FROM conflicts WHERE kind = 'key' AND"
		                             " station = 'B' AND other_station = 'A' AND"
		                             " device_uid = 'DEV-5' AND serial_hex = '05'"),
		                ==,
		                1);
		g_assert_cmpint(
		    fst_test_int(central,
		                 "SELECT count(*) FROM certificates WHERE serial_hex = '06'"
		                 " AND conflict IS NULL"),
		    ==,
		    1);
		g_assert_cmpint(fst_test_int(central, "SELECT count(*) FROM conflicts"), ==, 2);
	}
}

static void
fst_central_reserve_test(void)
{
	g_autoptr(FstCentral) a = fst_test_connect();
	g_autoptr(FstCentral) b = fst_test_connect();
	g_autoptr(GError) error = NULL;

	fst_test_sql(a, "TRUNCATE reservations");
	g_assert_true(fst_central_reserve(a, "A", "DEV-R", &error));
	g_assert_no_error(error);
	/* renewing one's own is fine */
	g_assert_true(fst_central_reserve(a, "A", "DEV-R", &error));
	g_assert_false(fst_central_reserve(b, "B", "DEV-R", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_BUSY);
	g_assert_nonnull(strstr(error->message, "being provisioned by station A"));
	g_clear_error(&error);
	/* B's release does not free A's */
	g_assert_true(fst_central_release(b, "B", "DEV-R", &error));
	g_assert_false(fst_central_reserve(b, "B", "DEV-R", &error));
	g_clear_error(&error);
	g_assert_true(fst_central_release(a, "A", "DEV-R", &error));
	g_assert_true(fst_central_reserve(b, "B", "DEV-R", &error));
	g_assert_no_error(error);
}

/* station A with @n verified certificates, local ids 1 to @n (device
 * `DEV-<id>`, serial the id in hex), and an empty queue */
static void
fst_test_queue_reset(FstCentral *central, guint n)
{
	g_autofree gchar *sql = g_strdup_printf(
	    "INSERT INTO certificates (station_id, local_id, device_local_id, device_uid,"
	    " serial_hex, issuer_sha256, aws_cert_id, der, state, slot, created_at, updated_at)"
	    " SELECT id, c, c, 'DEV-' || c, to_hex(c), 'ca', 'x', '\\x3082', 'verified', 0, 0, 0"
	    " FROM stations, generate_series(1, %u) c",
	    n);

	fst_test_sql(central, "TRUNCATE stations, certificates, registrations, conflicts CASCADE");
	fst_test_sql(central, "INSERT INTO stations (name) VALUES ('A')");
	fst_test_sql(central, sql);
}

typedef struct {
	const gchar *name;
	GHashTable *seen; /* id -> registrar, under lock */
	GMutex *lock;
	guint claimed;
} FstRegistrar;

static gpointer
fst_central_registrar_thread(gpointer data)
{
	FstRegistrar *r = data;
	g_autoptr(FstCentral) central = fst_test_connect();

	for (;;) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) rows = fst_central_claim_registrations(
		    central, r->name, NULL, "register", 3, 0, &error);
		g_assert_no_error(error);
		if (rows->len == 0)
			break;
		for (guint i = 0; i < rows->len; i++) {
			FstCentralRegistration *reg = g_ptr_array_index(rows, i);
			g_mutex_lock(r->lock);
			g_assert_false(
			    g_hash_table_contains(r->seen, GINT_TO_POINTER((gint)reg->id)));
			g_hash_table_add(r->seen, GINT_TO_POINTER((gint)reg->id));
			g_mutex_unlock(r->lock);
			g_assert_nonnull(reg->der);
			g_assert_cmpstr(reg->serial_hex, ==, "1");
			g_assert_true(fst_central_complete_registration(
			    central, reg->id, r->name, "arn:aws:iot:cert/x", NULL, &error));
			g_assert_no_error(error);
			r->claimed++;
		}
	}
	return NULL;
}

static void
fst_central_queue_test(void)
{
	g_autoptr(FstCentral) central = fst_test_connect();
	g_autoptr(GError) error = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
	GMutex lock;
	FstRegistrar regs[3] = {{"reg-1"}, {"reg-2"}, {"reg-3"}};
	GThread *threads[3];
	g_autoptr(GPtrArray) rows = NULL;
	FstCentralRegistration *reg;

	g_mutex_init(&lock);
	fst_test_queue_reset(central, 1);
	fst_test_sql(
	    central,
	    "INSERT INTO registrations (station_id, local_id, certificate_local_id, target, action,"
	    " created_at) SELECT s.id, g, 1, 'aws-iot:1:eu-west-1', 'register', 0"
	    " FROM stations s, generate_series(1, 300) g");
	/* three registrars at once: every row claimed exactly once */
	for (guint i = 0; i < G_N_ELEMENTS(regs); i++) {
		regs[i].seen = seen;
		regs[i].lock = &lock;
		threads[i] = g_thread_new("registrar", fst_central_registrar_thread, &regs[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		g_thread_join(threads[i]);
	g_assert_cmpuint(g_hash_table_size(seen), ==, 300);
	g_assert_cmpuint(regs[0].claimed + regs[1].claimed + regs[2].claimed, ==, 300);
	g_assert_cmpint(
	    fst_test_int(central, "SELECT count(*) FROM registrations WHERE state = 'done'"),
	    ==,
	    300);

	/* a failure goes back to pending; a claim taken over is not the old
	 * registrar's to complete; a lost claim is handed out again */
	fst_test_sql(central,
	             "UPDATE registrations SET state = 'pending', attempts = 0 WHERE local_id = 7");
	rows = fst_central_claim_registrations(central, "reg-1", NULL, NULL, 10, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(rows->len, ==, 1);
	reg = g_ptr_array_index(rows, 0);
	g_assert_cmpint(reg->attempts, ==, 1);
	g_assert_true(fst_central_complete_registration(
	    central, reg->id, "reg-1", NULL, "throttled", &error));
	g_assert_cmpint(fst_test_int(central,
	                             "SELECT count(*) FROM registrations WHERE state = 'pending'"
	                             " AND last_error = 'throttled'"),
	                ==,
	                1);
	g_clear_pointer(&rows, g_ptr_array_unref);
	rows = fst_central_claim_registrations(central, "reg-1", NULL, NULL, 10, 0, &error);
	g_assert_cmpuint(rows->len, ==, 1);
	/* renewed, the claim is not handed out again */
	reg = g_ptr_array_index(rows, 0);
	g_assert_true(fst_central_renew_registration(
	    central, reg->id, "reg-1", "arn:renewed", (gint64)3600 * G_USEC_PER_SEC, &error));
	g_assert_no_error(error);
	g_clear_pointer(&rows, g_ptr_array_unref);
	rows = fst_central_claim_registrations(central, "reg-2", NULL, NULL, 10, 0, &error);
	g_assert_cmpuint(rows->len, ==, 0);
	fst_test_sql(central,
	             "UPDATE registrations SET next_attempt_at = now() - interval '1 second'"
	             " WHERE state = 'in-progress'");
	g_clear_pointer(&rows, g_ptr_array_unref);
	rows = fst_central_claim_registrations(central, "reg-2", NULL, NULL, 10, 0, &error);
	g_assert_cmpuint(rows->len, ==, 1);
	reg = g_ptr_array_index(rows, 0);
	g_assert_cmpint(reg->attempts, ==, 3);
	g_assert_false(
	    fst_central_complete_registration(central, reg->id, "reg-1", "arn", NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_cmpstr(reg->remote_id, ==, "arn:renewed");
	/* put back for later: not due before its time; given up: failed */
	g_assert_true(fst_central_defer_registration(
	    central, reg->id, "reg-2", "throttled", (gint64)3600 * G_USEC_PER_SEC, &error));
	g_assert_no_error(error);
	g_clear_pointer(&rows, g_ptr_array_unref);
	rows = fst_central_claim_registrations(central, "reg-2", NULL, NULL, 10, 0, &error);
	g_assert_cmpuint(rows->len, ==, 0);
	fst_test_sql(central,
	             "UPDATE registrations SET next_attempt_at = now() WHERE local_id = 7");
	g_clear_pointer(&rows, g_ptr_array_unref);
	rows = fst_central_claim_registrations(central, "reg-2", NULL, NULL, 10, 0, &error);
	g_assert_cmpuint(rows->len, ==, 1);
	reg = g_ptr_array_index(rows, 0);
	g_assert_true(
	    fst_central_defer_registration(central, reg->id, "reg-2", "refused", -1, &error));
	g_assert_cmpint(fst_test_int(central,
	                             "SELECT count(*) FROM registrations WHERE state = 'failed'"
	                             " AND last_error = 'refused'"),
	                ==,
	                1);

	/* a deactivation or a revocation waits until its certificate's
	 * registration is over (else a registrar could revoke it before another
	 * one had it registered, and leave it active) */
	fst_test_sql(
	    central,
	    "UPDATE registrations SET state = 'pending' WHERE local_id = 30;"
	    "INSERT INTO registrations (station_id, local_id, certificate_local_id, target,"
	    " action, created_at) SELECT id, NULL, 1, 'aws-iot:1:eu-west-1', a, 0"
	    " FROM stations, (VALUES ('deactivate'), ('revoke')) v(a)");
	g_clear_pointer(&rows, g_ptr_array_unref);
	rows = fst_central_claim_registrations(central, "reg-2", NULL, "deactivate", 10, 0, &error);
	g_assert_cmpuint(rows->len, ==, 0);
	g_clear_pointer(&rows, g_ptr_array_unref);
	rows = fst_central_claim_registrations(central, "reg-2", NULL, "revoke", 10, 0, &error);
	g_assert_cmpuint(rows->len, ==, 0);
	g_clear_pointer(&rows, g_ptr_array_unref);
	rows = fst_central_claim_registrations(central, "reg-2", NULL, "register", 10, 0, &error);
	g_assert_cmpuint(rows->len, ==, 1);
	reg = g_ptr_array_index(rows, 0);
	g_assert_true(
	    fst_central_complete_registration(central, reg->id, "reg-2", "arn", NULL, &error));
	g_clear_pointer(&rows, g_ptr_array_unref);
	rows = fst_central_claim_registrations(central, "reg-2", NULL, NULL, 10, 0, &error);
	g_assert_cmpuint(rows->len, ==, 2);
	for (guint i = 0; i < rows->len; i++) {
		reg = g_ptr_array_index(rows, i);
		g_assert_cmpstr(reg->action, ==, i == 0 ? "deactivate" : "revoke");
		g_assert_cmpstr(reg->device_uid, ==, "DEV-1");
		g_assert_true(fst_central_complete_registration(
		    central, reg->id, "reg-2", NULL, NULL, &error));
		g_assert_no_error(error);
	}

	/* a row another registrar holds locked is skipped, not waited for */
	{
		g_autoptr(FstCentral) other = fst_test_connect();
		fst_test_sql(
		    central,
		    "UPDATE registrations SET state = 'pending' WHERE local_id IN (20, 21)");
		fst_test_sql(other, "BEGIN");
		fst_test_sql(other, "SELECT id FROM registrations WHERE local_id = 20 FOR UPDATE");
		fst_test_sql(central, "SET statement_timeout = 3000");
		g_clear_pointer(&rows, g_ptr_array_unref);
		rows = fst_central_claim_registrations(central, "reg-3", NULL, NULL, 1, 0, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(rows->len, ==, 1);
		reg = g_ptr_array_index(rows, 0);
		g_assert_cmpint(
		    reg->id,
		    ==,
		    fst_test_int(central, "SELECT id FROM registrations WHERE local_id = 21"));
		fst_test_sql(other, "ROLLBACK");
	}
	g_mutex_clear(&lock);
}

/* what a registrar claims, oldest first: `TARGET ACTION, ...` */
static gchar *
fst_test_claim_targets(FstCentral *central, const gchar *registrar, const gchar *target)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) rows =
	    fst_central_claim_registrations(central, registrar, target, NULL, 10, 0, &error);
	g_autoptr(GString) out = g_string_new(NULL);

	g_assert_no_error(error);
	for (guint i = 0; i < rows->len; i++) {
		FstCentralRegistration *reg = g_ptr_array_index(rows, i);
		g_string_append_printf(out, "%s%s %s", i > 0 ? ", " : "", reg->target, reg->action);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* a registrar claims the rows of its own region and `*`, never another
 * region's: those wait for a registrar of that region */
static void
fst_central_queue_region_test(void)
{
	g_autoptr(FstCentral) central = fst_test_connect();
	g_autofree gchar *eu = NULL;
	g_autofree gchar *us = NULL;
	g_autofree gchar *eu_again = NULL;
	g_autofree gchar *ap = NULL;

	fst_test_queue_reset(central, 6);
	/* the regions interleaved, oldest first; a `*` deactivation of a
	 * certificate registered nowhere the queue knows */
	fst_test_sql(central,
	             "INSERT INTO registrations (station_id, local_id, certificate_local_id,"
	             " target, action, created_at) SELECT s.id, v.l, v.l, v.t, v.a, 0"
	             " FROM stations s, (VALUES (1, 'aws-iot:eu-west-1', 'register'),"
	             " (2, 'aws-iot:us-east-1', 'register'), (3, 'aws-iot:eu-west-1', 'register'),"
	             " (4, '*', 'deactivate'), (5, 'aws-iot:us-east-1', 'register'),"
	             " (6, 'aws-iot:eu-west-1', 'register')) v(l, t, a) ORDER BY v.l");

	/* region A: its rows and the wildcard, none of B's */
	eu = fst_test_claim_targets(central, "reg-eu", "aws-iot:eu-west-1");
	g_assert_cmpstr(eu,
	                ==,
	                "aws-iot:eu-west-1 register, aws-iot:eu-west-1 register, * deactivate, "
	                "aws-iot:eu-west-1 register");
	/* region B: its own two, which A left untouched (their first attempt) */
	us = fst_test_claim_targets(central, "reg-us", "aws-iot:us-east-1");
	g_assert_cmpstr(us, ==, "aws-iot:us-east-1 register, aws-iot:us-east-1 register");
	g_assert_cmpint(
	    fst_test_int(central,
	                 "SELECT count(*) FROM registrations WHERE state = 'in-progress'"
	                 " AND attempts = 1 AND claimed_by = 'reg-us'"
	                 " AND target = 'aws-iot:us-east-1'"),
	    ==,
	    2);
	/* nothing left for A */
	eu_again = fst_test_claim_targets(central, "reg-eu", "aws-iot:eu-west-1");
	g_assert_cmpstr(eu_again, ==, "");
	/* a region with no rows gets none of the others' pending ones */
	fst_test_sql(central,
	             "UPDATE registrations SET state = 'pending', claimed_by = NULL,"
	             " next_attempt_at = NULL WHERE target <> '*'");
	ap = fst_test_claim_targets(central, "reg-ap", "aws-iot:ap-south-1");
	g_assert_cmpstr(ap, ==, "");
}

/* an interaction that gives its answers in turn and counts the questions */
#define FST_TYPE_TEST_INTERACTION (fst_test_interaction_get_type())
G_DECLARE_FINAL_TYPE(
    FstTestInteraction, fst_test_interaction, FST, TEST_INTERACTION, FstInteraction)

struct _FstTestInteraction {
	FstInteraction parent_instance;
	const gchar *const *answers;
	guint asked;
	guint retries;
	gchar *last_question;
};

G_DEFINE_TYPE(FstTestInteraction, fst_test_interaction, FST_TYPE_INTERACTION)

static FstSecret *
fst_test_interaction_ask_password(FstInteraction *interaction,
                                  const gchar *description,
                                  FstInteractionFlags flags,
                                  GCancellable *cancellable,
                                  GError **error)
{
	FstTestInteraction *self = FST_TEST_INTERACTION(interaction);
	const gchar *answer = self->answers != NULL ? self->answers[self->asked] : NULL;

	self->asked++;
	if (flags & FST_INTERACTION_FLAG_RETRY)
		self->retries++;
	g_free(self->last_question);
	self->last_question = g_strdup(description);
	if (answer == NULL) {
		g_set_error_literal(error, FST_ERROR, FST_ERROR_PERMISSION_DENIED, "no answer");
		return NULL;
	}
	return fst_secret_new((const guint8 *)answer, strlen(answer));
}

static void
fst_test_interaction_finalize(GObject *object)
{
	g_free(FST_TEST_INTERACTION(object)->last_question);
	G_OBJECT_CLASS(fst_test_interaction_parent_class)->finalize(object);
}

static void
fst_test_interaction_class_init(FstTestInteractionClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = fst_test_interaction_finalize;
	FST_INTERACTION_CLASS(klass)->ask_password = fst_test_interaction_ask_password;
}

static void
fst_test_interaction_init(FstTestInteraction *self)
{
}

/* a workspace whose station.conf points at the registry as @user, with
 * @extra to tell the settings apart */
static gchar *
fst_test_password_workspace(const gchar *tmp, const gchar *name, const gchar *extra)
{
	g_autofree gchar *ws = g_build_filename(tmp, name, NULL);
	g_autofree gchar *conf = g_build_filename(ws, "station.conf", NULL);
	g_autofree gchar *text = g_strdup_printf(
	    "[station]\nname=%s\n[central]\nconninfo=%s user=fst_pw %s\n", name, conninfo, extra);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(g_mkdir_with_parents(ws, 0700), ==, 0);
	g_assert_true(g_file_set_contents(conf, text, -1, &error));
	g_assert_no_error(error);
	return g_steal_pointer(&ws);
}

static void
fst_central_password_test(void)
{
	g_autoptr(FstCentral) admin = fst_test_connect();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmp = g_dir_make_tmp("fst-central-pw-XXXXXX", NULL);
	g_autofree gchar *hba_path = g_build_filename(pg_data, "pg_hba.conf", NULL);
	g_autofree gchar *hba = NULL;
	g_autofree gchar *hba_new = NULL;
	g_autofree gchar *pgpass = g_build_filename(tmp, "pgpass", NULL);
	g_autofree gchar *ws = NULL;
	g_autofree gchar *conf = NULL;
	g_autoptr(FstTestInteraction) ask = g_object_new(fst_test_interaction_get_type(), NULL);
	const gchar *answers[] = {"wrong", "pw-secret", NULL};

	/* the account fst_pw needs a password (the others stay trusted) */
	fst_test_sql(admin,
	             "DROP ROLE IF EXISTS fst_pw; CREATE ROLE fst_pw LOGIN PASSWORD 'pw-secret';"
	             "GRANT USAGE ON SCHEMA public TO fst_pw;"
	             "GRANT ALL ON ALL TABLES IN SCHEMA public TO fst_pw;"
	             "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO fst_pw");
	g_assert_true(g_file_get_contents(hba_path, &hba, NULL, &error));
	hba_new = g_strdup_printf("host all fst_pw 127.0.0.1/32 scram-sha-256\n%s", hba);
	g_assert_true(g_file_set_contents(hba_path, hba_new, -1, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_chmod(hba_path, 0644), ==, 0);
	fst_test_sql(admin, "SELECT pg_reload_conf()");
	g_setenv("PGPASSFILE", pgpass, TRUE);
	g_unsetenv("PGPASSWORD");

	/* libpq finds none: the interaction is asked; a refused answer is
	 * asked again, marked as a retry */
	ask->answers = answers;
	fst_station_set_default_interaction(FST_INTERACTION(ask));
	ws = fst_test_password_workspace(tmp, "P1", "");
	{
		g_autoptr(FstCentral) c = fst_central_station_connect(ws, &error);
		g_assert_no_error(error);
		g_assert_nonnull(c);
	}
	g_assert_cmpuint(ask->asked, ==, 2);
	g_assert_cmpuint(ask->retries, ==, 1);
	g_assert_nonnull(strstr(ask->last_question, "user fst_pw on the central registry"));
	/* the other connections of the process do not ask again */
	{
		g_autoptr(FstCentral) c = fst_central_station_connect(ws, &error);
		g_assert_no_error(error);
		g_assert_nonnull(c);
	}
	g_assert_cmpuint(ask->asked, ==, 2);
	/* never written to the configuration */
	conf = g_build_filename(ws, "station.conf", NULL);
	{
		g_autofree gchar *text = NULL;
		g_assert_true(g_file_get_contents(conf, &text, NULL, NULL));
		g_assert_null(strstr(text, "pw-secret"));
	}

	/* unattended, nothing to ask: refused, saying where the password goes */
	fst_station_set_default_interaction(NULL);
	g_free(ws);
	ws = fst_test_password_workspace(tmp, "P2", "application_name=p2");
	{
		g_autoptr(FstCentral) c = fst_central_station_connect(ws, &error);
		g_assert_null(c);
		g_assert_error(error, FST_ERROR, FST_ERROR_PERMISSION_DENIED);
		g_assert_nonnull(strstr(error->message, "pgpass"));
		g_clear_error(&error);
	}

	/* in $PGPASSFILE: nobody is asked */
	{
		g_autofree gchar *line = NULL;
		g_autofree gchar *port = NULL;
		g_autoptr(FstCentral) c = NULL;
		GRegex *re = g_regex_new("port=([0-9]+)", 0, 0, NULL);
		GMatchInfo *m = NULL;
		g_assert_true(g_regex_match(re, conninfo, 0, &m));
		port = g_match_info_fetch(m, 1);
		g_match_info_free(m);
		g_regex_unref(re);
		line = g_strdup_printf("127.0.0.1:%s:fleetstation:fst_pw:pw-secret\n", port);
		g_assert_true(g_file_set_contents(pgpass, line, -1, &error));
		g_assert_cmpint(g_chmod(pgpass, 0600), ==, 0);
		ask->answers = NULL;
		ask->asked = 0;
		fst_station_set_default_interaction(FST_INTERACTION(ask));
		g_free(ws);
		ws = fst_test_password_workspace(tmp, "P3", "application_name=p3");
		c = fst_central_station_connect(ws, &error);
		g_assert_no_error(error);
		g_assert_nonnull(c);
		g_assert_cmpuint(ask->asked, ==, 0);
	}

	/* a station's own connections (the line's, the sync worker) ask the
	 * interaction it was opened with, not the process's default */
	g_unlink(pgpass);
	fst_station_set_default_interaction(NULL);
	{
		const gchar *station_bin = g_getenv("FST_STATION");
		const gchar *answer[] = {"pw-secret", NULL};
		g_autofree gchar *ws4 = g_build_filename(tmp, "P4", NULL);
		g_autofree gchar *central_arg =
		    g_strdup_printf("%s user=fst_pw application_name=p4", conninfo);
		g_autofree gchar *conf4 = g_build_filename(ws4, "station.conf", NULL);
		g_autofree gchar *text = NULL;
		g_autoptr(GRegex) re = g_regex_new("^name=.*$", G_REGEX_MULTILINE, 0, NULL);
		g_autofree gchar *renamed = NULL;
		g_autoptr(FstStation) station = NULL;
		FstCentralWorker *worker;
		gchar *argv[] = {(gchar *)(guintptr)station_bin,
		                 (gchar *)(guintptr) "init",
		                 (gchar *)(guintptr) "--workspace",
		                 ws4,
		                 (gchar *)(guintptr) "--demo-ca",
		                 (gchar *)(guintptr) "--central",
		                 central_arg,
		                 NULL};
		gint status = 0;

		g_assert_nonnull(station_bin);
		g_assert_true(g_spawn_sync(NULL,
		                           argv,
		                           NULL,
		                           G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
		                           NULL,
		                           NULL,
		                           NULL,
		                           NULL,
		                           &status,
		                           &error));
		g_assert_cmpint(status, ==, 0);
		ask->asked = 0;
		g_assert_true(g_file_get_contents(conf4, &text, NULL, &error));
		renamed = g_regex_replace_literal(re, text, -1, 0, "name=P4", 0, &error);
		g_assert_true(g_file_set_contents(conf4, renamed, -1, &error));
		/* the CA's passphrase from the workspace, as the base class reads it */
		g_autoptr(FstTestInteraction) asker =
		    g_object_new(fst_test_interaction_get_type(), "workspace", ws4, NULL);
		asker->answers = answer;
		station = fst_station_open_full(ws4, FST_INTERACTION(asker), &error);
		g_assert_no_error(error);
		worker = fst_central_worker_start(station, &error);
		g_assert_no_error(error);
		g_assert_nonnull(worker);
		fst_central_worker_kick(worker);
		g_assert_true(fst_central_worker_stop(worker, 10000));
		fst_central_worker_free(worker);
		g_assert_cmpuint(asker->asked, ==, 1);
		g_assert_cmpuint(ask->asked, ==, 0);
		g_assert_cmpint(
		    fst_test_int(admin, "SELECT count(*) FROM stations WHERE name = 'P4'"), ==, 1);
	}
	g_unsetenv("PGPASSFILE");
	g_assert_true(g_file_set_contents(hba_path, hba, -1, &error));
	fst_test_sql(admin, "SELECT pg_reload_conf()");
	fst_test_pki_rmrf(tmp);
}

int
main(int argc, char **argv)
{
	const gchar *script = g_getenv("FST_CENTRAL_PG");
	g_autofree gchar *tmp = g_dir_make_tmp("fst-central-db-test-XXXXXX", NULL);
	g_autofree gchar *pgdir = g_build_filename(tmp, "pg", NULL);
	g_autofree gchar *out = NULL;
	g_autofree gchar *script_copy = g_strdup(script);
	g_autofree gchar *start_cmd = g_strdup("start");
	g_autofree gchar *destroy_cmd = g_strdup("destroy");
	gchar *start[] = {NULL, start_cmd, pgdir, NULL};
	gchar *destroy[] = {NULL, destroy_cmd, pgdir, NULL};
	gint status = 0;
	gint rc;

	g_test_init(&argc, &argv, NULL);
	g_setenv("FST_PG_TLS", "1", TRUE);
	if (script == NULL) {
		g_printerr("FST_CENTRAL_PG is not set\n");
		return 1;
	}
	start[0] = destroy[0] = script_copy;
	if (!g_spawn_sync(
	        NULL, start, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status, NULL))
		return 1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		g_printerr("skipped: no PostgreSQL server binaries\n");
		return 77;
	}
	if (status != 0) {
		g_printerr("cannot start PostgreSQL\n");
		return 1;
	}
	conninfo = g_strstrip(g_steal_pointer(&out));
	tls_dir = g_build_filename(pgdir, "tls", NULL);
	pg_data = g_build_filename(pgdir, "data", NULL);
	g_test_add_func("/fst/central/conninfo/no-password-service-tls", fst_central_conninfo_test);
	g_test_add_func("/fst/central/tls/verify-full", fst_central_tls_test);
	g_test_add_func("/fst/central/migrate/once-concurrent-newer-refused-from-v1",
	                fst_central_migrate_test);
	g_test_add_func("/fst/central/constraints/serial-per-ca-one-in-service",
	                fst_central_constraints_test);
	g_test_add_func("/fst/central/reserve/other-station-named", fst_central_reserve_test);
	g_test_add_func("/fst/central/password/asked-once-retried-never-stored",
	                fst_central_password_test);
	g_test_add_func("/fst/central/queue/skip-locked-once-each-lease-defer",
	                fst_central_queue_test);
	g_test_add_func("/fst/central/queue/claims-own-region-and-wildcard",
	                fst_central_queue_region_test);
	rc = g_test_run();
	g_spawn_sync(NULL, destroy, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, NULL, NULL);
	g_rmdir(tmp);
	g_free(conninfo);
	g_free(tls_dir);
	return rc;
}
