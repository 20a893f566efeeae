/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstDbTest"

#include <glib/gstdio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

#include "fst-audit.h"
#include "fst-central-private.h"
#include "fst-crypto.h"
#include "fst-db-queue.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-report.h"
#include "fst-sqlite-common.h"

/*
 * Tests of the station database against real SQLite files, one temporary
 * folder per test. A second, raw SQLite connection checks what is really on
 * disk, independently of the code under test.
 */

/* one key signs every test certificate: only the bytes matter to the database */
static EVP_PKEY *test_key = NULL;

typedef struct {
	gchar *tmpdir;
	gchar *path;
} TestFixture;

static void
test_rm_rf(const gchar *path)
{
	if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		const gchar *name;
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, name, NULL);
			test_rm_rf(child);
		}
		g_rmdir(path);
		return;
	}
	g_unlink(path);
}

static void
test_fixture_setup(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	fx->tmpdir = g_dir_make_tmp("fst-db-test-XXXXXX", &error);
	g_assert_no_error(error);
	fx->path = g_build_filename(fx->tmpdir, "station.db", NULL);
}

static void
test_fixture_teardown(TestFixture *fx, gconstpointer user_data)
{
	test_rm_rf(fx->tmpdir);
	g_free(fx->tmpdir);
	g_free(fx->path);
}

/* a real X.509 certificate with @serial for the public key of @key,
 * signed by the test key */
static GBytes *
test_make_der_for_key(guint64 serial, const gchar *cn, EVP_PKEY *key)
{
	g_autoptr(X509) x509 = X509_new();
	g_autoptr(BIGNUM) bn = BN_new();
	X509_NAME *name;
	guchar *der = NULL;
	gint len;

	g_assert_nonnull(x509);
	g_assert_cmpint(BN_set_word(bn, serial), ==, 1);
	g_assert_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x509)));
	g_assert_cmpint(X509_set_version(x509, 2), ==, 1);
	g_assert_nonnull(X509_gmtime_adj(X509_getm_notBefore(x509), 0));
	g_assert_nonnull(X509_gmtime_adj(X509_getm_notAfter(x509), 3600L * 24 * 365));
	g_assert_cmpint(X509_set_pubkey(x509, key), ==, 1);
	name = X509_get_subject_name(x509);
	g_assert_cmpint(
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const guchar *)cn, -1, -1, 0),
	    ==,
	    1);
	g_assert_cmpint(X509_set_issuer_name(x509, name), ==, 1);
	g_assert_cmpint(X509_sign(x509, test_key, EVP_sha256()), >, 0);
	len = i2d_X509(x509, &der);
	g_assert_cmpint(len, >, 0);
	{
		GBytes *bytes = g_bytes_new(der, (gsize)len);
		OPENSSL_free(der);
		return bytes;
	}
}

/* a real certificate with @serial, for a key of its own: the database
 * files every device's key, and refuses one device's key for another */
static GBytes *
test_make_der(guint64 serial, const gchar *cn)
{
	g_autoptr(EVP_PKEY) key = EVP_EC_gen("P-256");
	g_assert_nonnull(key);
	return test_make_der_for_key(serial, cn, key);
}

/* the steps recorded, in order, the `records` events left out */
#define TEST_SQL_STEPS                                                                             \
	"SELECT group_concat(step, ',') FROM (SELECT step FROM event_steps WHERE step != "         \
	"'records' ORDER BY event_id, step_index)"

static FstDbCert *
test_cert_new(guint64 serial, const gchar *uid)
{
	FstDbCert *cert = g_new0(FstDbCert, 1);
	g_autofree gchar *cn = g_strdup_printf("device %s", uid);
	cert->serial_hex = g_strdup_printf("%" G_GINT64_MODIFIER "X", serial);
	cert->der = test_make_der(serial, cn);
	cert->subject = g_strdup_printf("CN=%s", cn);
	cert->key_type = g_strdup("ec-p256");
	cert->not_before = 1700000000;
	cert->not_after = 1700000000 + 3600 * 24 * 365;
	cert->issuer_sha256 = g_compute_checksum_for_string(G_CHECKSUM_SHA256, "issuing ca", -1);
	cert->profile = g_strdup("aws-iot");
	return cert;
}

/* test_cert_new(), its certificate for @key */
static FstDbCert *
test_cert_for_key(guint64 serial, const gchar *uid, EVP_PKEY *key)
{
	FstDbCert *cert = test_cert_new(serial, uid);
	g_autofree gchar *cn = g_strdup_printf("device %s", uid);

	g_bytes_unref(cert->der);
	cert->der = test_make_der_for_key(serial, cn, key);
	return cert;
}

static FstDeviceInfo *
test_info_new(const gchar *uid, const gchar *firmware)
{
	FstDeviceInfo *info = g_new0(FstDeviceInfo, 1);
	info->uid = g_strdup(uid);
	info->model = g_strdup("sensor-x1");
	info->firmware = g_strdup(firmware);
	info->protocol_version = 1;
	info->key_types = FST_KEY_TYPE_EC_P256 | FST_KEY_TYPE_RSA_2048;
	info->validation = FST_VALIDATION_ECDSA_P256;
	info->can_csr = TRUE;
	return info;
}

static GBytes *
test_read_file(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	gchar *data = NULL;
	gsize len = 0;
	g_file_get_contents(path, &data, &len, &error);
	g_assert_no_error(error);
	return g_bytes_new_take(data, len);
}

/* a raw connection, independent of the code under test */
static sqlite3 *
test_sql_open(const gchar *path)
{
	sqlite3 *db = NULL;
	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
	return db;
}

static gint64
test_sql_int(const gchar *path, const gchar *sql)
{
	g_autoptr(sqlite3) db = test_sql_open(path);
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	return sqlite3_column_int64(stmt, 0);
}

static gchar *
test_sql_text(const gchar *path, const gchar *sql)
{
	g_autoptr(sqlite3) db = test_sql_open(path);
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	return g_strdup((const gchar *)sqlite3_column_text(stmt, 0));
}

static void
test_sql_exec(const gchar *path, const gchar *sql)
{
	g_autoptr(sqlite3) db = NULL;
	gchar *errmsg = NULL;
	g_assert_cmpint(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
	    ==,
	    SQLITE_OK);
	sqlite3_exec(db, sql, NULL, NULL, &errmsg);
	g_assert_cmpstr(errmsg, ==, NULL);
}

/* every table, index and trigger definition, sorted, to compare schemas */
static gchar *
test_sql_schema(const gchar *path)
{
	g_autoptr(sqlite3) db = test_sql_open(path);
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autoptr(GString) str = g_string_new(NULL);
	g_assert_cmpint(sqlite3_prepare_v2(db,
	                                   "SELECT type, name, sql FROM sqlite_master "
	                                   "ORDER BY type, name",
	                                   -1,
	                                   &stmt,
	                                   NULL),
	                ==,
	                SQLITE_OK);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		const guchar *sql = sqlite3_column_text(stmt, 2);
		g_string_append_printf(str,
		                       "%s %s: %s\n",
		                       sqlite3_column_text(stmt, 0),
		                       sqlite3_column_text(stmt, 1),
		                       sql != NULL ? (const gchar *)sql : "(auto)");
	}
	return g_string_free(g_steal_pointer(&str), FALSE);
}

/* begin -> certificate -> objects -> finish: what the pipeline does */
static gint64
test_provision(FstDb *db, gint64 station_id, const gchar *uid, guint64 serial, GBytes **der_out)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new(uid, "1.0.0");
	g_autoptr(FstDbCert) cert = test_cert_new(serial, uid);
	g_autoptr(GBytes) roots = g_bytes_new_static("roots", 5);
	gint64 device_id;

	device_id = fst_db_begin_device(db, station_id, info, "/dev/ttyUSB0", &error);
	g_assert_no_error(error);
	g_assert_cmpint(device_id, >, 0);
	g_assert_true(fst_db_add_certificate(db, device_id, cert, &error));
	g_assert_no_error(error);
	g_assert_true(fst_db_add_object(
	    db, device_id, cert->serial_hex, FST_OBJECT_DEVICE_CERT, cert->der, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(fst_db_add_object(
	    db, device_id, cert->serial_hex, FST_OBJECT_TRUST_ROOTS, roots, "aa,bb", &error));
	g_assert_no_error(error);
	g_assert_true(
	    fst_db_set_certificate_state(db, cert->serial_hex, FST_CERT_STATE_BURNED, &error));
	g_assert_no_error(error);
	g_assert_true(fst_db_finish_device(db, device_id, cert->serial_hex, NULL, &error));
	g_assert_no_error(error);
	if (der_out != NULL)
		*der_out = g_bytes_ref(cert->der);
	return device_id;
}

static void
test_open_creates_schema(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autofree gchar *path = g_build_filename(fx->tmpdir, "new", "folder", "station.db", NULL);
	g_autofree gchar *journal = NULL;
	g_autofree gchar *dbid = NULL;
	struct stat st = {0};

	db = fst_db_open(path, &error);
	g_assert_no_error(error);
	g_assert_nonnull(db);
	g_assert_cmpuint(fst_db_get_schema_version(db), ==, FST_DB_SCHEMA_VERSION);
	g_assert_cmpstr(fst_db_get_path(db), ==, path);

	/* what a second connection sees on disk */
	journal = test_sql_text(path, "PRAGMA journal_mode");
	g_assert_cmpstr(journal, ==, "wal");
	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, FST_DB_SCHEMA_VERSION);
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
	                             "name IN ('schema_migrations', 'db_properties', 'stations', "
	                             "'devices', 'certificates', 'device_objects', 'events', "
	                             "'operators', 'lots', 'profiles', 'registrations', 'cas', "
	                             "'key_escrows')"),
	                ==,
	                13);
	/* small pages: each commit writes every page it touched (schema.md) */
	g_assert_cmpint(test_sql_int(path, "PRAGMA page_size"), ==, 2048);
	/* nothing rewrites sqlite_sequence per commit: no AUTOINCREMENT left */
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM sqlite_master WHERE sql LIKE "
	                             "'%AUTOINCREMENT%'"),
	                ==,
	                0);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM schema_migrations"),
	                ==,
	                FST_DB_SCHEMA_VERSION);
	g_assert_cmpint(test_sql_int(path, "SELECT max(version) FROM schema_migrations"),
	                ==,
	                FST_DB_SCHEMA_VERSION);
	/* a new file is not backed up: there is nothing to keep */
	g_assert_null(fst_db_get_last_backup(db));
	dbid = test_sql_text(path, "SELECT value FROM db_properties WHERE key = 'database-id'");
	g_assert_true(g_uuid_string_is_valid(dbid));

	/* no secrets inside, but the audit record must not be writable by all */
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & S_IWOTH, ==, 0);

	/* reopening does not migrate again */
	g_clear_pointer(&db, fst_db_close);
	db = fst_db_open(path, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(fst_db_get_schema_version(db), ==, FST_DB_SCHEMA_VERSION);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM schema_migrations"),
	                ==,
	                FST_DB_SCHEMA_VERSION);
	g_clear_pointer(&db, fst_db_close);
	{
		g_autofree gchar *dbid2 = test_sql_text(
		    path, "SELECT value FROM db_properties WHERE key = 'database-id'");
		g_assert_cmpstr(dbid, ==, dbid2);
	}
}

static void
test_open_fixes_world_writable(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	struct stat st = {0};

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	g_clear_pointer(&db, fst_db_close);
	g_assert_cmpint(g_chmod(fx->path, 0666), ==, 0);

	g_test_expect_message("FstDb", G_LOG_LEVEL_WARNING, "*writable by every user*");
	db = fst_db_open(fx->path, &error);
	g_test_assert_expected_messages();
	g_assert_no_error(error);
	g_assert_cmpint(g_stat(fx->path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0664);
}

static void
test_device_provisioned_survives_reopen(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GBytes) der = NULL;
	g_autofree gchar *sha = NULL;
	g_autofree gchar *obj_sha = NULL;
	gint64 station_id;
	gint64 device_id;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	station_id = fst_db_ensure_station(db, "line-1", "host-a", "0.1.0", &error);
	g_assert_no_error(error);
	g_assert_cmpint(station_id, >, 0);
	/* ensuring again returns the same row, updated */
	g_assert_cmpint(
	    fst_db_ensure_station(db, "line-1", "host-b", "0.1.1", &error), ==, station_id);
	g_assert_no_error(error);
	device_id = test_provision(db, station_id, "SN-0001", 0xA1B2C3D4E5ULL, &der);
	g_clear_pointer(&db, fst_db_close);

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	dev = fst_db_find_device(db, "SN-0001", &error);
	g_assert_no_error(error);
	g_assert_nonnull(dev);
	g_assert_cmpint(dev->id, ==, device_id);
	g_assert_cmpstr(dev->uid, ==, "SN-0001");
	g_assert_cmpstr(dev->model, ==, "sensor-x1");
	g_assert_cmpstr(dev->firmware, ==, "1.0.0");
	g_assert_cmpstr(dev->port, ==, "/dev/ttyUSB0");
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_null(dev->last_error);
	g_assert_cmpstr(dev->key_types, ==, "ec-p256,rsa-2048");
	g_assert_cmpuint(dev->protocol_version, ==, 1);
	g_assert_cmpint(dev->station_id, ==, station_id);
	g_assert_cmpint(dev->created_at, >, 0);
	g_assert_cmpint(dev->updated_at, >=, dev->created_at);

	g_assert_nonnull(dev->cert);
	g_assert_cmpstr(dev->cert->serial_hex, ==, "A1B2C3D4E5");
	g_assert_true(g_bytes_equal(dev->cert->der, der));
	sha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, der);
	g_assert_cmpstr(dev->cert->aws_cert_id, ==, sha);
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_VERIFIED);
	g_assert_cmpstr(dev->cert->subject, ==, "CN=device SN-0001");
	g_assert_cmpstr(dev->cert->profile, ==, "aws-iot");
	g_assert_cmpint(dev->cert->not_before, ==, 1700000000);

	/* the objects burned, as a second connection sees them */
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM device_objects"), ==, 2);
	obj_sha =
	    test_sql_text(fx->path, "SELECT sha256 FROM device_objects WHERE kind = 'device-cert'");
	g_assert_cmpstr(obj_sha, ==, sha);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT length FROM device_objects WHERE kind = 'device-cert'"),
	    ==,
	    (gint64)g_bytes_get_size(der));
	g_assert_cmpint(test_sql_int(fx->path,
	                             "SELECT count(*) FROM device_objects o JOIN certificates c ON "
	                             "c.id = o.certificate_id WHERE c.serial_hex = 'A1B2C3D4E5'"),
	                ==,
	                2);
	g_assert_cmpint(test_sql_int(fx->path,
	                             "SELECT station_id FROM certificates WHERE serial_hex = "
	                             "'A1B2C3D4E5'"),
	                ==,
	                station_id);
}

static void
test_device_failed_keeps_certificate(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) failure = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(FstDbDevice) dev2 = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new("SN-FAIL", "2.0");
	g_autoptr(FstDbCert) cert = test_cert_new(0x77, "SN-FAIL");
	g_autoptr(GPtrArray) events = NULL;
	FstDbEvent *last;
	gint64 device_id;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	device_id = fst_db_begin_device(db, 0, info, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(fst_db_add_certificate(db, device_id, cert, &error));
	g_assert_no_error(error);
	g_assert_true(fst_db_set_certificate_state(db, "77", FST_CERT_STATE_BURNED, &error));
	g_assert_no_error(error);

	failure = g_error_new_literal(FST_ERROR,
	                              FST_ERROR_TIMED_OUT,
	                              "reading back the device certificate: no answer in 2000 ms");
	g_assert_true(fst_db_finish_device(db, device_id, "77", failure, &error));
	g_assert_no_error(error);
	g_clear_pointer(&db, fst_db_close);

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	dev = fst_db_find_device(db, "SN-FAIL", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_FAILED);
	g_assert_cmpstr(dev->last_error, ==, failure->message);
	g_assert_nonnull(dev->cert);
	g_assert_cmpstr(dev->cert->serial_hex, ==, "77");
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_BURNED);
	g_assert_true(g_bytes_equal(dev->cert->der, cert->der));

	events = fst_db_list_events(db, device_id, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, >=, 1);
	last = g_ptr_array_index(events, events->len - 1);
	g_assert_cmpstr(last->step, ==, "failed");
	g_assert_cmpstr(last->outcome, ==, "failed");
	g_assert_nonnull(strstr(last->detail, "timed-out: reading back"));
	g_assert_nonnull(strstr(last->detail, "certificate 77 kept as burned"));

	/* a second attempt succeeds: the error is cleared */
	g_assert_cmpint(fst_db_begin_device(db, 0, info, NULL, &error), ==, device_id);
	g_assert_no_error(error);
	g_assert_true(fst_db_finish_device(db, device_id, "77", NULL, &error));
	g_assert_no_error(error);
	dev2 = fst_db_find_device(db, "SN-FAIL", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev2->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_null(dev2->last_error);
	g_assert_cmpint(dev2->cert->state, ==, FST_CERT_STATE_VERIFIED);
}

static void
test_device_cancelled_outcome(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) failure = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new("SN-CANCEL", "2.0");
	g_autoptr(GPtrArray) events = NULL;
	FstDbEvent *ev;
	gint64 device_id;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	device_id = fst_db_begin_device(db, 0, info, NULL, &error);
	g_assert_no_error(error);
	/* failed before any certificate existed: no serial */
	failure = g_error_new_literal(FST_ERROR, FST_ERROR_CANCELLED, "stopped by the operator");
	g_assert_true(fst_db_finish_device(db, device_id, NULL, failure, &error));
	g_assert_no_error(error);
	events = fst_db_list_events(db, device_id, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, ==, 1);
	ev = g_ptr_array_index(events, 0);
	g_assert_cmpstr(ev->step, ==, "failed");
	g_assert_cmpstr(ev->outcome, ==, "cancelled");
	g_assert_cmpstr(ev->detail, ==, "cancelled: stopped by the operator");

	/* success needs the certificate serial */
	g_assert_false(fst_db_finish_device(db, device_id, NULL, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	/* an unknown device */
	g_assert_false(fst_db_finish_device(db, 4242, NULL, failure, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
}

static void
test_certificate_rejects_duplicate(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new("SN-DUP", "1.0");
	g_autoptr(FstDbCert) cert = test_cert_new(0xABCDEF, "SN-DUP");
	g_autoptr(FstDbCert) same_serial = test_cert_new(0xABCDEF, "SN-OTHER");
	g_autoptr(FstDbCert) same_der = test_cert_new(0x1234, "SN-DUP");
	g_autoptr(FstDbCert) bad_id = test_cert_new(0x5555, "SN-DUP");
	g_autoptr(FstDbCert) bad_serial = test_cert_new(0x6666, "SN-DUP");
	g_autoptr(FstDbCert) no_device = test_cert_new(0x7777, "SN-NONE");
	g_autoptr(FstDbDevice) dev = NULL;
	gint64 device_id;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	device_id = fst_db_begin_device(db, 0, info, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(fst_db_add_certificate(db, device_id, cert, &error));
	g_assert_no_error(error);

	/* same serial, other bytes, lower case: still the same serial */
	g_free(same_serial->serial_hex);
	same_serial->serial_hex = g_strdup("abcdef");
	g_assert_false(fst_db_add_certificate(db, device_id, same_serial, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
	g_assert_nonnull(strstr(error->message, "ABCDEF"));
	g_assert_nonnull(strstr(error->message, "certificates.serial_hex"));
	g_assert_nonnull(strstr(error->message, fx->path));
	g_clear_error(&error);

	/* same DER under another serial: refused, the serial must be the DER's
	 * (so the unique serial keeps the DER and its SHA-256 unique) */
	g_bytes_unref(same_der->der);
	same_der->der = g_bytes_ref(cert->der);
	g_assert_false(fst_db_add_certificate(db, device_id, same_der, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "its DER has serial ABCDEF"));
	g_clear_error(&error);
	/* bytes that are not a certificate */
	g_bytes_unref(same_der->der);
	same_der->der = g_bytes_new_static("\x30\x03\x02\x01\x05", 5);
	g_assert_false(fst_db_add_certificate(db, device_id, same_der, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "not one DER X.509 certificate"));
	g_clear_error(&error);

	/* an aws_cert_id that is not the SHA-256 of the DER */
	bad_id->aws_cert_id = g_strnfill(64, 'a');
	g_assert_false(fst_db_add_certificate(db, device_id, bad_id, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* a serial that is not hex */
	g_free(bad_serial->serial_hex);
	bad_serial->serial_hex = g_strdup("12'; DROP TABLE certificates; --");
	g_assert_false(fst_db_add_certificate(db, device_id, bad_serial, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* an unknown device */
	g_assert_false(fst_db_add_certificate(db, device_id + 100, no_device, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);

	g_clear_pointer(&db, fst_db_close);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM certificates"), ==, 1);
	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	dev = fst_db_find_device(db, "SN-DUP", &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(dev->cert->der, cert->der));
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_ISSUED);
}

static void
test_certificate_state_forward_only(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new("SN-STATE", "1.0");
	g_autoptr(FstDbCert) cert = test_cert_new(0x42, "SN-STATE");
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GPtrArray) events = NULL;
	gint64 device_id;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	device_id = fst_db_begin_device(db, 0, info, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(fst_db_add_certificate(db, device_id, cert, &error));
	g_assert_no_error(error);

	g_assert_true(fst_db_set_certificate_state(db, "42", FST_CERT_STATE_BURNED, &error));
	g_assert_no_error(error);
	/* the same state again is a no-op */
	g_assert_true(fst_db_set_certificate_state(db, "42", FST_CERT_STATE_BURNED, &error));
	g_assert_no_error(error);
	g_assert_false(fst_db_set_certificate_state(db, "42", FST_CERT_STATE_ISSUED, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(fst_db_set_certificate_state(db, "4243", FST_CERT_STATE_BURNED, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_true(fst_db_set_certificate_state(db, "42", FST_CERT_STATE_REVOKED, &error));
	g_assert_no_error(error);
	g_assert_false(fst_db_set_certificate_state(db, "42", FST_CERT_STATE_REGISTERED, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* a revoked certificate cannot make a device provisioned, and the failed
	 * transaction leaves no trace */
	g_assert_false(fst_db_finish_device(db, device_id, "42", NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	dev = fst_db_find_device(db, "SN-STATE", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_IN_PROGRESS);
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_REVOKED);
	events = fst_db_list_events(db, device_id, &error);
	g_assert_no_error(error);
	/* issued, issued -> burned, burned -> revoked; nothing from the refused moves */
	g_assert_cmpuint(events->len, ==, 3);
	g_assert_cmpstr(
	    ((FstDbEvent *)g_ptr_array_index(events, 0))->step, ==, "certificate-issued");
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, 1))->detail,
	                ==,
	                "certificate 42: issued -> burned");
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, 2))->detail,
	                ==,
	                "certificate 42: burned -> revoked (reason: unspecified)");

	g_assert_cmpstr(fst_cert_state_to_string(FST_CERT_STATE_REGISTERED), ==, "registered");
	g_assert_cmpstr(fst_cert_state_to_string(FST_CERT_STATE_INTERRUPTED), ==, "interrupted");
	/* the device states, as stored, both ways */
	for (guint i = 0; i < FST_DB_DEVICE_STATE_LAST; i++) {
		FstDbDeviceState back = FST_DB_DEVICE_STATE_LAST;
		g_assert_true(
		    fst_db_device_state_from_string(fst_db_device_state_to_string(i), &back));
		g_assert_cmpint(back, ==, i);
	}
	g_assert_cmpstr(
	    fst_db_device_state_to_string(FST_DB_DEVICE_STATE_IN_PROGRESS), ==, "in-progress");
	{
		FstDbDeviceState unknown = FST_DB_DEVICE_STATE_LAST;
		g_assert_false(fst_db_device_state_from_string("provisioning", &unknown));
		g_assert_cmpstr(
		    fst_db_device_state_to_string(FST_DB_DEVICE_STATE_LAST), ==, "unknown");
	}
	g_assert_cmpstr(fst_cert_state_to_string(FST_CERT_STATE_LAST), ==, "unknown");
}

static void
test_object_checks(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDeviceInfo) info_a = test_info_new("SN-A", "1.0");
	g_autoptr(FstDeviceInfo) info_b = test_info_new("SN-B", "1.0");
	g_autoptr(FstDbCert) cert_a = test_cert_new(0xA, "SN-A");
	g_autoptr(GBytes) data = g_bytes_new_static("chain", 5);
	gint64 dev_a;
	gint64 dev_b;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	dev_a = fst_db_begin_device(db, 0, info_a, NULL, &error);
	g_assert_no_error(error);
	dev_b = fst_db_begin_device(db, 0, info_b, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev_a, !=, dev_b);
	g_assert_true(fst_db_add_certificate(db, dev_a, cert_a, &error));
	g_assert_no_error(error);

	/* device B cannot record an object against device A's certificate */
	g_assert_false(fst_db_add_object(db, dev_b, "A", FST_OBJECT_CA_CHAIN, data, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(fst_db_add_object(db, dev_a, "A", FST_OBJECT_LAST, data, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	/* without a certificate is fine (trust roots belong to no certificate) */
	g_assert_true(
	    fst_db_add_object(db, dev_b, NULL, FST_OBJECT_TRUST_ROOTS, data, "x,y", &error));
	g_assert_no_error(error);
	g_clear_pointer(&db, fst_db_close);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM device_objects"), ==, 1);
	g_assert_cmpint(
	    test_sql_int(fx->path,
	                 "SELECT count(*) FROM device_objects WHERE certificate_id IS NULL"),
	    ==,
	    1);
}

static void
test_device_reprovision_one_row(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new("SN-RE", "1.0");
	g_autoptr(FstDbCert) cert2 = test_cert_new(0x2002, "SN-RE");
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	gint64 id1;
	gint64 id2;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	id1 = test_provision(db, 0, "SN-RE", 0x1001, NULL);

	/* the same device comes back with new firmware on another port */
	g_free(info->firmware);
	info->firmware = g_strdup("1.1");
	id2 = fst_db_begin_device(db, 0, info, "/dev/ttyUSB1", &error);
	g_assert_no_error(error);
	g_assert_cmpint(id2, ==, id1);
	dev = fst_db_find_device(db, "SN-RE", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_IN_PROGRESS);
	g_assert_cmpstr(dev->firmware, ==, "1.1");
	g_assert_cmpstr(dev->port, ==, "/dev/ttyUSB1");
	g_clear_pointer(&dev, fst_db_device_free);

	g_assert_true(fst_db_add_certificate(db, id2, cert2, &error));
	g_assert_no_error(error);
	g_assert_true(fst_db_finish_device(db, id2, "2002", NULL, &error));
	g_assert_no_error(error);

	dev = fst_db_find_device(db, "SN-RE", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(dev->cert->serial_hex, ==, "2002");
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	devices = fst_db_list_devices(db, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(devices->len, ==, 1);
	g_clear_pointer(&db, fst_db_close);

	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM devices"), ==, 1);
	/* the first certificate is kept: it is known, not lost */
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM certificates"), ==, 2);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM certificates WHERE state = 'verified'"),
	    ==,
	    2);
}

static void
test_open_refuses_newer_schema(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(GBytes) before = NULL;
	g_autoptr(GBytes) after = NULL;
	g_autofree gchar *expected = NULL;
	g_autofree gchar *wal = g_strdup_printf("%s-wal", fx->path);
	g_autofree gchar *sql = g_strdup_printf("CREATE TABLE future (x); INSERT INTO future "
	                                        "VALUES (1); PRAGMA user_version = %u;",
	                                        FST_DB_SCHEMA_VERSION + 1);

	test_sql_exec(fx->path, sql);
	before = test_read_file(fx->path);

	db = fst_db_open(fx->path, &error);
	g_assert_null(db);
	g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
	expected = g_strdup_printf("database %s has schema version %u, this fleetstation knows "
	                           "up to %u: upgrade fleetstation",
	                           fx->path,
	                           FST_DB_SCHEMA_VERSION + 1,
	                           FST_DB_SCHEMA_VERSION);
	g_assert_cmpstr(error->message, ==, expected);

	after = test_read_file(fx->path);
	g_assert_true(g_bytes_equal(before, after));
	g_assert_false(g_file_test(wal, G_FILE_TEST_EXISTS));
}

static void
test_open_refuses_newer_schema_wal(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(GBytes) before = NULL;
	g_autoptr(GBytes) after = NULL;
	g_autofree gchar *sql = g_strdup_printf("PRAGMA journal_mode = WAL; CREATE TABLE future "
	                                        "(x); PRAGMA user_version = %u;",
	                                        FST_DB_SCHEMA_VERSION + 7);

	/* a file a newer station left in WAL mode, as ours are */
	test_sql_exec(fx->path, sql);
	before = test_read_file(fx->path);
	db = fst_db_open(fx->path, &error);
	g_assert_null(db);
	g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
	g_assert_nonnull(strstr(error->message, "upgrade fleetstation"));
	after = test_read_file(fx->path);
	g_assert_true(g_bytes_equal(before, after));
}

static void
test_open_refuses_non_database(TestFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *random = g_malloc(8192);
	g_autofree gchar *header_only = NULL;
	struct {
		const gchar *name;
		const gchar *data;
		gsize len;
	} cases[] = {
	    {"notes.txt", "this is not a database\n", 23},
	    {"short.db", "SQLite", 6},
	    {"random.db", random, 8192},
	    {"header-damaged.db", NULL, 0},
	};

	for (gsize i = 0; i < 8192; i++)
		random[i] = (gchar)g_test_rand_int_range(0, 256);
	/* a real header followed by garbage: SQLite itself must refuse it */
	header_only = g_malloc0(4096);
	memcpy(header_only, "SQLite format 3", 16);
	memset(header_only + 16, 0xff, 4096 - 16);
	cases[3].data = header_only;
	cases[3].len = 4096;

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(FstDb) db = NULL;
		g_autoptr(GBytes) after = NULL;
		g_autoptr(GBytes) before = g_bytes_new_static(cases[i].data, cases[i].len);
		g_autofree gchar *path = g_build_filename(fx->tmpdir, cases[i].name, NULL);

		g_assert_true(g_file_set_contents(path, cases[i].data, (gssize)cases[i].len, NULL));
		db = fst_db_open(path, &error);
		g_assert_null(db);
		g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
		g_assert_nonnull(strstr(error->message, path));
		g_test_message("%s: %s", cases[i].name, error->message);
		after = test_read_file(path);
		g_assert_true(g_bytes_equal(before, after));
	}

	/* a folder is not a database either */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(FstDb) db = fst_db_open(fx->tmpdir, &error);
		g_assert_null(db);
		g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
		g_assert_nonnull(strstr(error->message, fx->tmpdir));
	}
}

typedef struct {
	FstDb *db;
	gint64 station_id;
	guint index;
	guint count;
} TestWorker;

static gpointer
test_worker_thread(gpointer user_data)
{
	TestWorker *w = user_data;
	for (guint i = 0; i < w->count; i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *uid = g_strdup_printf("T%u-D%03u", w->index, i);
		guint64 serial = 0x100000ULL * (w->index + 1) + i;
		gint64 t0 = g_get_real_time();
		gint64 device_id = test_provision(w->db, w->station_id, uid, serial, NULL);
		g_assert_true(fst_db_add_event(
		    w->db, device_id, "worker", t0, g_get_real_time(), "ok", uid, &error));
		g_assert_no_error(error);
	}
	return NULL;
}

static void
test_threads_concurrent_devices(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(GHashTable) uids = g_hash_table_new(g_str_hash, g_str_equal);
	TestWorker workers[4];
	GThread *threads[4];
	gint64 station_id;
	gint64 t0;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	station_id = fst_db_ensure_station(db, "bench", NULL, NULL, &error);
	g_assert_no_error(error);

	t0 = g_get_monotonic_time();
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++) {
		workers[i] =
		    (TestWorker){.db = db, .station_id = station_id, .index = i, .count = 50};
		threads[i] = g_thread_new("db-worker", test_worker_thread, &workers[i]);
	}
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		g_thread_join(threads[i]);
	g_test_message("4 threads x 50 devices (7 transactions each) took %.3f s",
	               (g_get_monotonic_time() - t0) / 1e6);

	devices = fst_db_list_devices(db, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(devices->len, ==, 200);
	for (guint i = 0; i < devices->len; i++) {
		FstDbDevice *dev = g_ptr_array_index(devices, i);
		g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
		g_assert_nonnull(dev->cert);
		g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_VERIFIED);
		g_assert_cmpint(dev->station_id, ==, station_id);
		g_assert_true(g_hash_table_add(uids, dev->uid));
	}
	g_clear_pointer(&db, fst_db_close);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM certificates"), ==, 200);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM device_objects"), ==, 400);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM events WHERE step = 'provisioned'"),
	    ==,
	    200);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM events WHERE step = 'worker'"), ==, 200);
	{
		g_autofree gchar *check = test_sql_text(fx->path, "PRAGMA integrity_check");
		g_assert_cmpstr(check, ==, "ok");
	}
}

static void
test_events_ordered(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new("SN-EV", "1.0");
	g_autoptr(FstDbCert) cert = test_cert_new(0xE1, "SN-EV");
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GPtrArray) all = NULL;
	g_autofree gchar *huge = g_strnfill(100000, 'x');
	const struct {
		const gchar *step;
		const gchar *outcome;
	} expected[] = {
	    {"certificate-issued", "ok"}, /* by fst_db_add_certificate() */
	    {"identify", "ok"},
	    {"generate-csr", "ok"},
	    {"burn-device-cert", "failed"},
	    {"burn-device-cert", "ok"},
	    {"certificate-state", "ok"}, /* issued -> burned */
	    {"certificate-state", "ok"}, /* burned -> verified, by finish */
	    {"provisioned", "ok"},
	};
	gint64 station_id;
	gint64 device_id;
	gint64 base = 1750000000000000;
	gint64 prev_id = 0;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	station_id = fst_db_ensure_station(db, "line-2", NULL, NULL, &error);
	g_assert_no_error(error);
	device_id = fst_db_begin_device(db, station_id, info, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(fst_db_add_certificate(db, device_id, cert, &error));
	g_assert_no_error(error);
	for (guint i = 1; i < 5; i++) {
		g_assert_true(
		    fst_db_add_event(db,
		                     device_id,
		                     expected[i].step,
		                     base + i * 1000,
		                     base + i * 1000 + 500,
		                     expected[i].outcome,
		                     i == 3 ? "storage-full: slot 1 holds 1024 bytes" : NULL,
		                     &error));
		g_assert_no_error(error);
	}
	g_assert_true(fst_db_set_certificate_state(db, "E1", FST_CERT_STATE_BURNED, &error));
	g_assert_no_error(error);
	g_assert_true(fst_db_finish_device(db, device_id, "E1", NULL, &error));
	g_assert_no_error(error);
	/* a station-wide event */
	g_assert_true(fst_db_add_event(db, 0, "station-start", base, base, "ok", huge, &error));
	g_assert_no_error(error);

	/* refused: bad names, bad times, unknown device; none of them is stored */
	g_assert_false(
	    fst_db_add_event(db, device_id, "Burn Cert", base, base, "ok", NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(fst_db_add_event(db, device_id, "burn", base, base, "", NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(fst_db_add_event(db, device_id, "burn", base, base - 1, "ok", NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(fst_db_add_event(db, 999, "burn", base, base, "ok", NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_clear_pointer(&db, fst_db_close);

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	events = fst_db_list_events(db, device_id, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, ==, G_N_ELEMENTS(expected));
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *ev = g_ptr_array_index(events, i);
		g_assert_cmpint(ev->id, >, prev_id);
		prev_id = ev->id;
		g_assert_cmpint(ev->device_id, ==, device_id);
		g_assert_cmpint(ev->station_id, ==, station_id);
		g_assert_cmpstr(ev->step, ==, expected[i].step);
		g_assert_cmpstr(ev->outcome, ==, expected[i].outcome);
		if (i >= 1 && i < 5) {
			g_assert_cmpint(ev->started_us, ==, base + i * 1000);
			g_assert_cmpint(ev->ended_us, ==, base + i * 1000 + 500);
		}
		g_assert_cmpint(ev->ended_us, >=, ev->started_us);
	}
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, 3))->detail,
	                ==,
	                "storage-full: slot 1 holds 1024 bytes");
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, 7))->detail, ==, "certificate E1");
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, 6))->detail,
	                ==,
	                "certificate E1: burned -> verified");

	all = fst_db_list_events(db, 0, &error);
	g_assert_no_error(error);
	/* with the `records` events that bound the station and device rows
	 * written on their own (fst_db_ensure_station(), fst_db_begin_device()) */
	g_assert_cmpuint(all->len, ==, G_N_ELEMENTS(expected) + 1 + 2);
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(all, 0))->step, ==, "records");
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(all, 1))->step, ==, "records");
	{
		FstDbEvent *ev = g_ptr_array_index(all, all->len - 1);
		g_assert_cmpstr(ev->step, ==, "station-start");
		g_assert_cmpint(ev->device_id, ==, 0);
		/* attributed to the station ensured on that connection */
		g_assert_cmpint(ev->station_id, ==, station_id);
		/* the detail is bounded */
		g_assert_cmpuint(strlen(ev->detail), ==, 16384);
	}
}

static void
test_input_untrusted_strings(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	const gchar *bad_uids[] = {
	    "",
	    "SN\n1",
	    "SN\x1b[31m",
	    "SN\xff\xfe",
	};
	const gchar *sneaky = "x'); DROP TABLE devices; --";
	g_autofree gchar *long_uid = g_strnfill(300, 'A');
	g_autoptr(FstDeviceInfo) info = test_info_new("placeholder", "1.0");

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(bad_uids); i++) {
		g_free(info->uid);
		info->uid = g_strdup(bad_uids[i]);
		g_assert_cmpint(fst_db_begin_device(db, 0, info, NULL, &error), ==, 0);
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_clear_error(&error);
	}
	g_free(info->uid);
	info->uid = g_strdup(long_uid);
	g_assert_cmpint(fst_db_begin_device(db, 0, info, NULL, &error), ==, 0);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* SQL in a device string is only data */
	g_free(info->uid);
	info->uid = g_strdup(sneaky);
	g_assert_cmpint(fst_db_begin_device(db, 0, info, NULL, &error), >, 0);
	g_assert_no_error(error);
	dev = fst_db_find_device(db, sneaky, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(dev->uid, ==, sneaky);
	g_assert_null(dev->cert);
	g_clear_pointer(&dev, fst_db_device_free);

	dev = fst_db_find_device(db, "SN-NEVER-SEEN", &error);
	g_assert_null(dev);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "SN-NEVER-SEEN"));
	g_clear_error(&error);
	g_clear_pointer(&db, fst_db_close);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM devices"), ==, 1);
}

/*
 * Migration fixtures. tests/data/db/v1.sql is a dump of a schema v1 database
 * written by the v1 code (see tests/data/db/README.md). A later schema
 * version adds its own assertions here: the v1 data must survive the
 * migration, and the migrated schema must equal a freshly created one.
 */
static FstAuditResult *
test_audit(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	FstAuditResult *result = fst_audit_verify(path, &error);
	g_assert_no_error(error);
	g_assert_nonnull(result);
	if (!result->ok)
		g_test_message("audit: %s", result->problem);
	return result;
}

static gchar *
test_load_fixture(TestFixture *fx, const gchar *name)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *src = g_build_filename(FST_DB_TEST_DATA_DIR, name, NULL);
	g_autofree gchar *sql = NULL;
	g_autofree gchar *path = g_build_filename(fx->tmpdir, "fixture.db", NULL);

	g_file_get_contents(src, &sql, NULL, &error);
	g_assert_no_error(error);
	/* a file fleetstation wrote always has sqlite_sequence (v1 made
	 * AUTOINCREMENT tables; it cannot be dropped), but .dump only empties it:
	 * made here as SQLite makes it, for the dumps of v4 and later */
	test_sql_exec(path,
	              "CREATE TABLE fixture_seq (id INTEGER PRIMARY KEY AUTOINCREMENT);"
	              "DROP TABLE fixture_seq;");
	test_sql_exec(path, sql);
	return g_steal_pointer(&path);
}

/* the one warning of the migration that files the keys, counted; the last
 * one kept */
static gchar *test_last_warning;

static void
test_shared_key_warning(const gchar *domain,
                        GLogLevelFlags level,
                        const gchar *message,
                        gpointer user_data)
{
	guint *seen = user_data;

	if (!g_pattern_match_simple("*recorded certificates*have a public key already certified "
	                            "for another device*boards that share a key*",
	                            message))
		g_error("unexpected warning: %s", message);
	g_free(test_last_warning);
	test_last_warning = g_strdup(message);
	(*seen)++;
}

/* opens a fixture whose certificates, made with one test key, share it
 * across devices: the migration that files the keys says so, once (the
 * test's fatal warnings suspended for it) */
static FstDb *
test_open_fixture_shared_key(const gchar *path, GError **error)
{
	GLogLevelFlags fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK);
	guint seen = 0;
	guint handler =
	    g_log_set_handler("FstDb", G_LOG_LEVEL_WARNING, test_shared_key_warning, &seen);
	FstDb *db = fst_db_open(path, error);

	g_log_remove_handler("FstDb", handler);
	g_log_set_always_fatal(fatal);
	g_assert_cmpuint(seen, ==, 1);
	return db;
}

/* a migrated file at @path has the schema of a freshly created one (made
 * at the fixture's own path) */
static void
test_assert_schema_fresh(TestFixture *fx, const gchar *path)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) fresh = fst_db_open(fx->path, &error);
	g_autofree gchar *schema_fixture = NULL;
	g_autofree gchar *schema_fresh = NULL;

	g_assert_no_error(error);
	g_clear_pointer(&fresh, fst_db_close);
	schema_fixture = test_sql_schema(path);
	schema_fresh = test_sql_schema(fx->path);
	g_assert_cmpstr(schema_fixture, ==, schema_fresh);
}

static void
test_migrate_from_v1_fixture(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(FstDbDevice) failed = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autofree gchar *path = test_load_fixture(fx, "v1.sql");
	g_autofree gchar *sha = NULL;

	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, 1);
	db = test_open_fixture_shared_key(path, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(fst_db_get_schema_version(db), ==, FST_DB_SCHEMA_VERSION);

	/* the v1 data is all there */
	devices = fst_db_list_devices(db, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(devices->len, ==, 2);
	dev = fst_db_find_device(db, "FIXTURE-0001", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_nonnull(dev->cert);
	g_assert_cmpstr(dev->cert->serial_hex, ==, "F1C0000001");
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_VERIFIED);
	sha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, dev->cert->der);
	g_assert_cmpstr(dev->cert->aws_cert_id, ==, sha);
	failed = fst_db_find_device(db, "FIXTURE-0002", &error);
	g_assert_no_error(error);
	g_assert_cmpint(failed->state, ==, FST_DB_DEVICE_STATE_FAILED);
	g_assert_cmpstr(failed->last_error, ==, "reading back the device certificate: timed out");
	g_assert_cmpint(failed->cert->state, ==, FST_CERT_STATE_BURNED);
	/* the 6 v1 events, then the migration's certificate-issued for each
	 * certificate, then the `records` events of the migration to v5 that
	 * bind the rows of each table holding any (devices, certificates,
	 * objects, stations, profiles, cas), all chained */
	events = fst_db_list_events(db, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, ==, 14);
	for (guint i = 8; i < events->len; i++)
		g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, i))->step, ==, "records");
	g_assert_cmpstr(
	    ((FstDbEvent *)g_ptr_array_index(events, 6))->step, ==, "certificate-issued");
	g_assert_nonnull(strstr(((FstDbEvent *)g_ptr_array_index(events, 7))->detail,
	                        "certificate F1C0000002 sha256 f7366cc4"));
	{
		g_autoptr(FstAuditResult) audit = test_audit(path);
		g_autoptr(GPtrArray) certs = NULL;
		FstDbCertFilter filter = {.issuer_sha256 =
		                              "60B48C27090BAA0C4F3ACB8126A5E40CE30209B2C1E9"
		                              "A76B4416D00D7CC497D6"};
		g_assert_true(audit->ok);
		g_assert_cmpint(audit->events, ==, 14);
		g_assert_cmpint(audit->certificates, ==, 2);
		certs = fst_db_list_certificates(db, &filter, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(certs->len, ==, 2);
		g_assert_cmpstr(
		    ((FstDbCert *)g_ptr_array_index(certs, 1))->device_uid, ==, "FIXTURE-0002");
		g_assert_null(((FstDbCert *)g_ptr_array_index(certs, 1))->lot);
		g_assert_cmpint(
		    test_sql_int(path,
		                 "SELECT count(*) FROM certificates c JOIN profiles p ON "
		                 "p.id = c.profile_id WHERE p.name = 'aws-iot' AND "
		                 "p.content_sha256 IS NULL"),
		    ==,
		    2);
	}

	/* it keeps working after the migration */
	test_provision(db, 0, "AFTER-MIGRATION", 0xAF7E4, NULL);
	g_clear_pointer(&db, fst_db_close);

	/* a migrated database has the same schema as a new one */
	test_assert_schema_fresh(fx, path);
	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, FST_DB_SCHEMA_VERSION);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM schema_migrations"),
	                ==,
	                FST_DB_SCHEMA_VERSION);
}

/* the v2 fixture: the current schema, opened as is, data and chain intact */
static void
test_migrate_from_v2_fixture(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(FstDbDevice) rework = NULL;
	g_autoptr(GPtrArray) revoked = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autofree gchar *path = test_load_fixture(fx, "v2.sql");
	g_autofree gchar *backup = NULL;
	FstDbCertFilter filter = {.state = "revoked", .lot = "LOT-V2-0001"};

	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, 2);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->events, ==, 12);
	g_assert_cmpint(audit->certificates, ==, 3);

	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM sqlite_master WHERE name = "
	                             "'device_objects_certificate'"),
	                ==,
	                1);
	db = test_open_fixture_shared_key(path, &error);
	g_assert_no_error(error);

	/* v2 -> v3: backed up first, as v2, then the index is gone */
	backup = fst_db_get_last_backup(db);
	g_assert_nonnull(backup);
	g_assert_nonnull(strstr(backup, ".v2-"));
	g_assert_cmpint(test_sql_int(backup, "PRAGMA user_version"), ==, 2);
	g_assert_cmpint(test_sql_int(backup,
	                             "SELECT count(*) FROM sqlite_master WHERE name = "
	                             "'device_objects_certificate'"),
	                ==,
	                1);
	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, FST_DB_SCHEMA_VERSION);
	g_assert_cmpint(test_sql_int(path, "SELECT max(version) FROM schema_migrations"),
	                ==,
	                FST_DB_SCHEMA_VERSION);
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM sqlite_master WHERE name = "
	                             "'device_objects_certificate'"),
	                ==,
	                0);
	/* the objects survived, and still name their certificate */
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM device_objects WHERE certificate_id "
	                             "IS NOT NULL"),
	                ==,
	                test_sql_int(backup,
	                             "SELECT count(*) FROM device_objects WHERE certificate_id "
	                             "IS NOT NULL"));
	dev = fst_db_find_device(db, "FIXTURE-V2-0001", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_cmpstr(dev->operator_name, ==, "Ana Lima");
	g_assert_cmpstr(dev->lot, ==, "LOT-V2-0001");
	rework = fst_db_find_device(db, "FIXTURE-V2-0003", &error);
	g_assert_no_error(error);
	g_assert_cmpint(rework->state, ==, FST_DB_DEVICE_STATE_REWORK);
	/* the certificate of its interrupted attempt is flagged by the migration */
	g_assert_cmpstr(rework->cert->serial_hex, ==, "F2C0000003");
	g_assert_cmpint(rework->cert->state, ==, FST_CERT_STATE_INTERRUPTED);
	revoked = fst_db_list_certificates(db, &filter, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(revoked->len, ==, 1);
	g_assert_cmpstr(
	    ((FstDbCert *)g_ptr_array_index(revoked, 0))->revocation_reason, ==, "superseded");
	g_assert_cmpstr(((FstDbCert *)g_ptr_array_index(revoked, 0))->profile_sha256,
	                ==,
	                "b8bfe03309ec4cb13b7e5b9ea0399660dafa711e2a3ef1e0d1b7f0bb6a8d9c41");

	/* it keeps working, and its chain with it */
	test_provision(db, 0, "AFTER-V2", 0xAF7E5, NULL);
	g_clear_pointer(&db, fst_db_close);
	g_clear_pointer(&audit, fst_audit_result_free);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 4);

	test_assert_schema_fresh(fx, path);
}

static gpointer
test_open_thread(gpointer user_data)
{
	const gchar *path = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(path, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(fst_db_get_schema_version(db), ==, FST_DB_SCHEMA_VERSION);
	return NULL;
}

static void
test_migrate_concurrent_open(TestFixture *fx, gconstpointer user_data)
{
	GThread *threads[4];
	g_autofree gchar *journal = NULL;

	/* separate connections, as separate processes would have: exactly one
	 * migrates, the others wait for it and see the result */
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		threads[i] = g_thread_new("db-open", test_open_thread, fx->path);
	for (guint i = 0; i < G_N_ELEMENTS(threads); i++)
		g_thread_join(threads[i]);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM schema_migrations"),
	                ==,
	                FST_DB_SCHEMA_VERSION);
	journal = test_sql_text(fx->path, "PRAGMA journal_mode");
	g_assert_cmpstr(journal, ==, "wal");
}

static void
test_migrate_failure_rolls_back(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(GBytes) before = NULL;
	g_autoptr(GBytes) after = NULL;

	/* an unversioned database with a table of the same name as one of ours:
	 * migration v1 fails half-way, after creating other tables */
	test_sql_exec(fx->path,
	              "CREATE TABLE events (who TEXT); INSERT INTO events VALUES ('me');");
	before = test_read_file(fx->path);

	db = fst_db_open(fx->path, &error);
	g_assert_null(db);
	g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
	g_assert_nonnull(strstr(error->message, "from schema version 0 to 1"));
	g_assert_nonnull(strstr(error->message, "nothing was changed"));
	g_assert_nonnull(strstr(error->message, "already exists"));
	g_test_message("%s", error->message);

	after = test_read_file(fx->path);
	g_assert_true(g_bytes_equal(before, after));
	g_assert_cmpint(test_sql_int(fx->path, "PRAGMA user_version"), ==, 0);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM sqlite_master"), ==, 1);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM events"), ==, 1);
}

/* the v1 fixture after migration keeps a byte-faithful backup of itself */
static void
test_migrate_v1_backup(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autofree gchar *path = test_load_fixture(fx, "v1.sql");
	g_autofree gchar *backup = NULL;
	g_autofree gchar *journal = NULL;
	struct stat st = {0};

	db = test_open_fixture_shared_key(path, &error);
	g_assert_no_error(error);
	backup = fst_db_get_last_backup(db);
	g_assert_nonnull(backup);
	g_assert_true(g_str_has_prefix(backup, path));
	g_assert_true(g_str_has_suffix(backup, ".bak"));
	g_assert_nonnull(strstr(backup, ".v1-"));
	g_assert_cmpint(g_stat(backup, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);

	/* the copy is the v1 file: version, rows, and no v2 tables */
	g_assert_cmpint(test_sql_int(backup, "PRAGMA user_version"), ==, 1);
	g_assert_cmpint(test_sql_int(backup, "SELECT count(*) FROM events"), ==, 6);
	g_assert_cmpint(test_sql_int(backup, "SELECT count(*) FROM certificates"), ==, 2);
	g_assert_cmpint(
	    test_sql_int(backup, "SELECT count(*) FROM sqlite_master WHERE name = 'lots'"), ==, 0);
	journal = test_sql_text(backup, "PRAGMA journal_mode");
	g_assert_cmpstr(journal, ==, "delete");

	/* reopening the migrated file makes no second backup */
	g_clear_pointer(&db, fst_db_close);
	db = fst_db_open(path, &error);
	g_assert_no_error(error);
	g_assert_null(fst_db_get_last_backup(db));
}

/* migration v2 fails half-way: the v1 file is left as it was, and backed up */
static void
test_migrate_v2_failure_keeps_v1(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autofree gchar *path = test_load_fixture(fx, "v1.sql");
	g_autofree gchar *schema_before = NULL;
	g_autofree gchar *schema_after = NULL;
	g_autoptr(GDir) dir = NULL;
	const gchar *name;
	guint backups = 0;

	/* a table in the way of v2 (someone's own addition to a v1 file) */
	test_sql_exec(path,
	              "CREATE TABLE registrations (note TEXT); "
	              "INSERT INTO registrations VALUES ('mine');");
	schema_before = test_sql_schema(path);

	db = fst_db_open(path, &error);
	g_assert_null(db);
	g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "from schema version 1 to 2"));
	g_assert_nonnull(strstr(error->message, "nothing was changed"));

	schema_after = test_sql_schema(path);
	g_assert_cmpstr(schema_before, ==, schema_after);
	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, 1);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM events"), ==, 6);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM events WHERE 0"), ==, 0);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM registrations"), ==, 1);
	g_assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));

	/* and the copy taken before trying is there too */
	g_clear_error(&error);
	dir = g_dir_open(fx->tmpdir, 0, &error);
	g_assert_no_error(error);
	while ((name = g_dir_read_name(dir)) != NULL) {
		if (g_str_has_prefix(name, "fixture.db.v1-") && g_str_has_suffix(name, ".bak"))
			backups++;
	}
	g_assert_cmpuint(backups, ==, 1);
}

/* what a walk saw: uids or serials, up to @stop_after (0: all) */
typedef struct {
	GPtrArray *seen;
	guint stop_after;
} TestWalk;

static gboolean
test_walk_device(FstDbDevice *dev, gpointer user_data)
{
	TestWalk *walk = user_data;
	g_ptr_array_add(walk->seen, g_strdup(dev->uid));
	fst_db_device_free(dev);
	return walk->stop_after == 0 || walk->seen->len < walk->stop_after;
}

static gboolean
test_walk_cert(FstDbCert *cert, gpointer user_data)
{
	TestWalk *walk = user_data;
	g_ptr_array_add(walk->seen, g_strdup(cert->serial_hex));
	fst_db_cert_free(cert);
	return walk->stop_after == 0 || walk->seen->len < walk->stop_after;
}

static void
test_context_operator_lot(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(FstDbDevice) dev2 = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new("SN-NOCTX", "1.0");
	g_autoptr(FstDbCert) cert = test_cert_new(0xC3, "SN-NOCTX");
	g_autofree gchar *issuer =
	    g_compute_checksum_for_string(G_CHECKSUM_SHA256, "issuing ca", -1);
	g_autofree gchar *issuer_upper = g_ascii_strup(issuer, -1);
	FstDbCertFilter filter = {0};
	gint64 station_id;
	gint64 device_id;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	station_id = fst_db_ensure_station(db, "line-1", NULL, NULL, &error);
	g_assert_no_error(error);

	g_assert_true(fst_db_set_context(db, "Ana Lima", "LOT-2026-11", &error));
	g_assert_no_error(error);
	device_id = test_provision(db, station_id, "SN-CTX-1", 0xC1, NULL);
	g_assert_true(fst_db_set_context(db, "Ben", "LOT-2026-12", &error));
	g_assert_no_error(error);
	test_provision(db, station_id, "SN-CTX-2", 0xC2, NULL);
	/* names recorded already: read, nothing written (no event binds them
	 * again), the ids the same */
	{
		gint64 events_before = test_sql_int(fx->path, "SELECT count(*) FROM events");
		g_assert_true(fst_db_set_context(db, "Ana Lima", "LOT-2026-12", &error));
		g_assert_no_error(error);
		g_assert_true(fst_db_set_context(db, "Ben", "LOT-2026-12", &error));
		g_assert_no_error(error);
		g_assert_cmpint(
		    test_sql_int(fx->path, "SELECT count(*) FROM events"), ==, events_before);
		g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM operators"), ==, 2);
		g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM lots"), ==, 2);
	}

	/* a control character in a name is refused and the context stays */
	g_assert_false(fst_db_set_context(db, "Ben\n", "LOT-X", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* a cleared context: NULL operator and lot */
	g_assert_true(fst_db_set_context(db, NULL, NULL, &error));
	g_assert_no_error(error);
	cert->profile_sha256 = g_compute_checksum_for_string(G_CHECKSUM_SHA256, "profile", -1);
	g_assert_true(fst_db_add_certificate(
	    db, fst_db_begin_device(db, station_id, info, NULL, &error), cert, &error));
	g_assert_no_error(error);

	dev = fst_db_find_device(db, "SN-CTX-1", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(dev->operator_name, ==, "Ana Lima");
	g_assert_cmpstr(dev->lot, ==, "LOT-2026-11");
	dev2 = fst_db_find_device(db, "SN-NOCTX", &error);
	g_assert_no_error(error);
	g_assert_null(dev2->operator_name);
	g_assert_null(dev2->lot);

	/* the lot filter, with operator and lot on the certificate */
	filter.lot = "LOT-2026-11";
	certs = fst_db_list_certificates(db, &filter, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 1);
	{
		FstDbCert *c = g_ptr_array_index(certs, 0);
		g_assert_cmpstr(c->serial_hex, ==, "C1");
		g_assert_cmpstr(c->device_uid, ==, "SN-CTX-1");
		g_assert_cmpstr(c->operator_name, ==, "Ana Lima");
		g_assert_cmpstr(c->lot, ==, "LOT-2026-11");
		g_assert_cmpint(c->state, ==, FST_CERT_STATE_VERIFIED);
		g_assert_cmpint(c->revoked_at, ==, 0);
		g_assert_null(c->profile_sha256);
		g_assert_cmpstr(c->profile, ==, "aws-iot");
	}
	g_clear_pointer(&certs, g_ptr_array_unref);

	/* state, device and issuer filters (issuer in any case) */
	filter = (FstDbCertFilter){.state = "issued"};
	certs = fst_db_list_certificates(db, &filter, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 1);
	g_assert_cmpstr(((FstDbCert *)g_ptr_array_index(certs, 0))->serial_hex, ==, "C3");
	g_assert_cmpstr(
	    ((FstDbCert *)g_ptr_array_index(certs, 0))->profile_sha256, ==, cert->profile_sha256);
	g_assert_null(((FstDbCert *)g_ptr_array_index(certs, 0))->lot);
	g_clear_pointer(&certs, g_ptr_array_unref);
	filter = (FstDbCertFilter){.device_uid = "SN-CTX-2", .issuer_sha256 = issuer_upper};
	certs = fst_db_list_certificates(db, &filter, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 1);
	g_assert_cmpstr(((FstDbCert *)g_ptr_array_index(certs, 0))->operator_name, ==, "Ben");
	g_clear_pointer(&certs, g_ptr_array_unref);
	certs = fst_db_list_certificates(db, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 3);
	g_clear_pointer(&certs, g_ptr_array_unref);
	filter = (FstDbCertFilter){.state = "lost"};
	g_assert_null(fst_db_list_certificates(db, &filter, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* one certificate by its serial, in any case; none for another device;
	 * text that is not hex is refused */
	{
		static const gchar *const serials[] = {"c2", "C2"};
		g_autofree gchar *aws_id = NULL;

		for (guint i = 0; i < G_N_ELEMENTS(serials); i++) {
			filter = (FstDbCertFilter){.serial_hex = serials[i]};
			certs = fst_db_list_certificates(db, &filter, &error);
			g_assert_no_error(error);
			g_assert_cmpuint(certs->len, ==, 1);
			g_assert_cmpstr(
			    ((FstDbCert *)g_ptr_array_index(certs, 0))->device_uid, ==, "SN-CTX-2");
			if (aws_id == NULL)
				aws_id = g_ascii_strup(
				    ((FstDbCert *)g_ptr_array_index(certs, 0))->aws_cert_id, -1);
			g_clear_pointer(&certs, g_ptr_array_unref);
		}
		filter = (FstDbCertFilter){.serial_hex = "C2", .device_uid = "SN-CTX-1"};
		certs = fst_db_list_certificates(db, &filter, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(certs->len, ==, 0);
		g_clear_pointer(&certs, g_ptr_array_unref);
		filter = (FstDbCertFilter){.serial_hex = "C2; --"};
		g_assert_null(fst_db_list_certificates(db, &filter, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_clear_error(&error);

		/* a device by what a person knows of it: its uid, or its
		 * certificate's serial or AWS id */
		{
			const gchar *refs[] = {"SN-CTX-2", "c2", aws_id};
			for (guint i = 0; i < G_N_ELEMENTS(refs); i++) {
				g_autoptr(FstDbDevice) found =
				    fst_db_search_device(db, refs[i], &error);
				g_assert_no_error(error);
				g_assert_cmpstr(found->uid, ==, "SN-CTX-2");
				g_assert_cmpstr(found->cert->serial_hex, ==, "C2");
			}
		}
		g_assert_null(fst_db_search_device(db, "C4", &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
		g_clear_error(&error);
		g_assert_null(fst_db_search_device(db, FST_AUDIT_GENESIS, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
		g_clear_error(&error);
		g_assert_null(fst_db_search_device(db, "SN-NONE", &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
		g_clear_error(&error);
	}

	/* the walks: one row at a time, a state filter, a stop */
	{
		g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
		TestWalk walk = {.seen = seen, .stop_after = 0};

		g_assert_true(
		    fst_db_foreach_device(db, "provisioned", test_walk_device, &walk, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(seen->len, ==, 2);
		g_assert_cmpstr(g_ptr_array_index(seen, 0), ==, "SN-CTX-1");
		g_assert_cmpstr(g_ptr_array_index(seen, 1), ==, "SN-CTX-2");
		g_ptr_array_set_size(seen, 0);
		g_assert_true(fst_db_foreach_device(db, NULL, test_walk_device, &walk, &error));
		g_assert_cmpuint(seen->len, ==, 3);
		g_ptr_array_set_size(seen, 0);
		walk.stop_after = 1;
		g_assert_true(fst_db_foreach_device(db, NULL, test_walk_device, &walk, &error));
		g_assert_cmpuint(seen->len, ==, 1);
		g_assert_false(fst_db_foreach_device(db, "lost", test_walk_device, &walk, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_clear_error(&error);

		g_ptr_array_set_size(seen, 0);
		walk.stop_after = 2;
		g_assert_true(fst_db_foreach_certificate(db, NULL, test_walk_cert, &walk, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(seen->len, ==, 2);
		g_assert_cmpstr(g_ptr_array_index(seen, 0), ==, "C1");
		g_assert_cmpstr(g_ptr_array_index(seen, 1), ==, "C2");
	}

	g_assert_cmpint(fst_db_count_certificates_by_issuer(db, issuer_upper, &error), ==, 3);
	g_assert_no_error(error);
	g_assert_cmpint(fst_db_count_certificates_by_issuer(db, FST_AUDIT_GENESIS, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(fst_db_count_certificates_by_issuer(db, "abc", &error), ==, -1);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* the events carry the lot too, on disk */
	events = fst_db_list_events(db, device_id, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *ev = g_ptr_array_index(events, i);
		g_assert_cmpint(ev->lot_id, >, 0);
		g_assert_cmpint(ev->operator_id, >, 0);
		g_assert_cmpuint(strlen(ev->hash), ==, 64);
	}
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM lots"), ==, 2);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM operators"), ==, 2);
	/* one profile per (name, content hash) */
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM profiles"), ==, 2);
}

static void
test_revoke_certificate(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autofree gchar *reason = NULL;
	gint64 before = g_get_real_time();
	gint64 device_id;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	device_id = test_provision(db, 0, "SN-REVOKE", 0xDEAD01, NULL);

	g_assert_true(fst_db_revoke_certificate(db, "dead01", "keyCompromise", &error));
	g_assert_no_error(error);
	dev = fst_db_find_device(db, "SN-REVOKE", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_REVOKED);
	g_assert_cmpint(dev->cert->revoked_at, >=, before);
	g_assert_cmpstr(dev->cert->revocation_reason, ==, "keyCompromise");
	events = fst_db_list_events(db, device_id, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, events->len - 1))->detail,
	                ==,
	                "certificate DEAD01: verified -> revoked (reason: keyCompromise)");

	/* the first revocation stands */
	g_assert_false(fst_db_revoke_certificate(db, "DEAD01", "superseded", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_false(fst_db_revoke_certificate(db, "BEEF", "superseded", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(fst_db_revoke_certificate(db, "DEAD01", "", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	reason = test_sql_text(
	    fx->path, "SELECT revocation_reason FROM certificates WHERE serial_hex = 'DEAD01'");
	g_assert_cmpstr(reason, ==, "keyCompromise");

	/* the audit chain follows the certificate to revoked */
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 1);
}

static void
test_mark_interrupted(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(FstDbDevice) other = NULL;
	g_autoptr(FstDbDevice) done = NULL;
	g_autoptr(GPtrArray) uids = NULL;
	g_autoptr(GPtrArray) again = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(FstDeviceInfo) a = test_info_new("SN-HALF", "1.0");
	g_autoptr(FstDeviceInfo) b = test_info_new("SN-NOCERT", "1.0");
	g_autoptr(FstDeviceInfo) c = test_info_new("SN-OTHER-STATION", "1.0");
	g_autoptr(FstDbCert) cert = test_cert_new(0xAB, "SN-HALF");
	g_autoptr(FstAuditResult) audit = NULL;
	FstDbEvent *last;
	gint64 line1, line2, id_a;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	line2 = fst_db_ensure_station(db, "line-2", NULL, NULL, &error);
	line1 = fst_db_ensure_station(db, "line-1", NULL, NULL, &error);
	g_assert_no_error(error);
	test_provision(db, line1, "SN-DONE", 0xAA, NULL);
	id_a = fst_db_begin_device(db, line1, a, "/dev/ttyUSB0", &error);
	g_assert_true(fst_db_add_certificate(db, id_a, cert, &error));
	g_assert_true(fst_db_set_certificate_state(db, "AB", FST_CERT_STATE_BURNED, &error));
	fst_db_begin_device(db, line1, b, "/dev/ttyUSB1", &error);
	fst_db_begin_device(db, line2, c, "/dev/ttyUSB2", &error);
	g_assert_no_error(error);

	/* line 1 died and starts again */
	g_clear_pointer(&db, fst_db_close);
	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	uids = fst_db_mark_interrupted(db, line1, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(uids->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(uids, 0), ==, "SN-HALF");
	g_assert_cmpstr(g_ptr_array_index(uids, 1), ==, "SN-NOCERT");

	dev = fst_db_find_device(db, "SN-HALF", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_REWORK);
	g_assert_nonnull(strstr(dev->last_error, "certificate AB was burned, now interrupted"));
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_INTERRUPTED);
	events = fst_db_list_events(db, id_a, &error);
	g_assert_no_error(error);
	last = g_ptr_array_index(events, events->len - 1);
	g_assert_cmpstr(last->step, ==, "interrupted");
	g_assert_cmpstr(last->outcome, ==, "interrupted");

	/* another station's work in progress and finished devices are left alone */
	other = fst_db_find_device(db, "SN-OTHER-STATION", &error);
	g_assert_cmpint(other->state, ==, FST_DB_DEVICE_STATE_IN_PROGRESS);
	done = fst_db_find_device(db, "SN-DONE", &error);
	g_assert_cmpint(done->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);

	/* nothing twice */
	again = fst_db_mark_interrupted(db, line1, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(again->len, ==, 0);

	/* a re-worked device can be provisioned again */
	g_assert_cmpint(fst_db_begin_device(db, line1, a, NULL, &error), ==, id_a);
	g_assert_no_error(error);
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
}

/* a device left in progress by a dead station: its issued certificate is
 * flagged interrupted (listed by state), and superseded, with its
 * deactivation queued, when the device is provisioned again */
static void
test_interrupted_certificate_superseded(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new("SN-KILLED", "1.0");
	g_autoptr(FstDbCert) first = test_cert_new(0xC1, "SN-KILLED");
	g_autoptr(FstDbCert) second = test_cert_new(0xC2, "SN-KILLED");
	g_autoptr(GPtrArray) uids = NULL;
	g_autoptr(GPtrArray) flagged = NULL;
	g_autoptr(GPtrArray) superseded = NULL;
	g_autoptr(GPtrArray) regs = NULL;
	g_autoptr(FstDbCert) active = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	FstDbCertFilter by_interrupted = {.state = "interrupted"};
	FstDbCertFilter by_superseded = {.state = "superseded"};
	FstDbStats stats = {0};
	gint64 line, id;

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	line = fst_db_ensure_station(db, "line-1", NULL, NULL, &error);
	id = fst_db_begin_device(db, line, info, NULL, &error);
	g_assert_true(fst_db_add_certificate(db, id, first, &error));
	g_assert_no_error(error);

	/* the station dies here and starts again */
	g_clear_pointer(&db, fst_db_close);
	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	uids = fst_db_mark_interrupted(db, line, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(uids->len, ==, 1);
	flagged = fst_db_list_certificates(db, &by_interrupted, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(flagged->len, ==, 1);
	g_assert_cmpstr(((FstDbCert *)g_ptr_array_index(flagged, 0))->serial_hex, ==, "C1");
	g_assert_true(fst_db_get_stats(db, &stats, &error));
	g_assert_cmpint(stats.certificates_by_state[FST_CERT_STATE_INTERRUPTED], ==, 1);
	fst_db_stats_clear(&stats);
	/* it is not in service, and only superseding or revoking moves it on */
	active = fst_db_get_active_certificate(db, "SN-KILLED", &error);
	g_assert_no_error(error);
	g_assert_null(active);
	g_assert_false(fst_db_set_certificate_state(db, "C1", FST_CERT_STATE_VERIFIED, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* provisioned again: the new certificate supersedes the interrupted one */
	g_assert_cmpint(fst_db_begin_device(db, line, info, NULL, &error), ==, id);
	g_assert_true(fst_db_add_certificate(db, id, second, &error));
	g_assert_true(fst_db_finish_device(db, id, "C2", NULL, &error));
	g_assert_no_error(error);
	superseded = fst_db_list_certificates(db, &by_superseded, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(superseded->len, ==, 1);
	g_assert_cmpstr(((FstDbCert *)g_ptr_array_index(superseded, 0))->serial_hex, ==, "C1");
	regs = fst_db_list_registrations(db, "deactivate", "pending", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(regs->len, ==, 1);
	g_assert_cmpstr(((FstDbRegistration *)g_ptr_array_index(regs, 0))->serial_hex, ==, "C1");
	g_clear_pointer(&db, fst_db_close);
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
}

static void
test_backup_online(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDb) copy = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GBytes) before = NULL;
	g_autoptr(GBytes) after = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autofree gchar *dest = g_build_filename(fx->tmpdir, "backup.db", NULL);
	g_autofree gchar *dest_wal = g_strdup_printf("%s-wal", dest);
	struct stat st = {0};

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	test_provision(db, 0, "SN-BACKUP", 0xBB, NULL);

	/* taken while the station's connection is open and has written */
	g_assert_true(fst_db_backup(db, dest, &error));
	g_assert_no_error(error);
	test_provision(db, 0, "SN-AFTER-BACKUP", 0xBC, NULL);
	g_assert_cmpint(g_stat(dest, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_false(g_file_test(dest_wal, G_FILE_TEST_EXISTS));

	/* never overwritten */
	before = test_read_file(dest);
	g_assert_false(fst_db_backup(db, dest, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
	g_assert_nonnull(strstr(error->message, "never overwritten"));
	g_clear_error(&error);
	after = test_read_file(dest);
	g_assert_true(g_bytes_equal(before, after));

	/* a working database with its audit chain */
	audit = test_audit(dest);
	g_assert_true(audit->ok);
	copy = fst_db_open(dest, &error);
	g_assert_no_error(error);
	dev = fst_db_find_device(copy, "SN-BACKUP", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_null(fst_db_find_device(copy, "SN-AFTER-BACKUP", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_true(fst_db_integrity_check(copy, &error));
	g_assert_no_error(error);
}

/* runs the sqlite3 command-line tool on @path in a process of its own (as
 * someone tampering would, or another program reading), returns its output */
static gchar *
test_sqlite3_cli_text(const gchar *path, const gchar *sql)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *err = NULL;
	g_auto(GStrv) argv = g_new0(gchar *, 4);
	gchar *out = NULL;
	gint status = 0;

	argv[0] = g_strdup("sqlite3");
	argv[1] = g_strdup(path);
	argv[2] = g_strdup(sql);
	g_spawn_sync(
	    NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(err, ==, "");
	g_assert_cmpint(status, ==, 0);
	return out;
}

/* the same, for a statement whose output does not matter */
static void
test_sqlite3_cli(const gchar *path, const gchar *sql)
{
	g_free(test_sqlite3_cli_text(path, sql));
}

typedef struct {
	const gchar *name;
	const gchar *sql;
	gint64 first_bad_id; /* -1: any */
	const gchar *problem;
} TestTamper;

static void
test_audit_catches_tampering(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAuditResult) clean = NULL;
	g_autoptr(GBytes) pristine = NULL;
	const TestTamper cases[] = {
	    {"edit a detail",
	     "UPDATE events SET detail = 'all fine' WHERE id = 5",
	     5,
	     "event 5 was changed"},
	    {"edit an outcome",
	     "UPDATE events SET outcome = 'ok' WHERE outcome = 'failed'",
	     -1,
	     "was changed"},
	    {"edit and re-chain one row",
	     "UPDATE events SET hash = (SELECT hash FROM events WHERE id = 6) WHERE id = 7",
	     7,
	     "event 7 was changed"},
	    {"delete a row", "DELETE FROM events WHERE id = 4", 4, "event 4 was deleted"},
	    {"delete rows",
	     "DELETE FROM events WHERE id IN (6, 7)",
	     6,
	     "events 6 to 7 were deleted"},
	    {"delete the last row",
	     "DELETE FROM events WHERE id = (SELECT max(id) FROM events)",
	     23,
	     "event 23 was deleted (the chain head says 23)"},
	    {"insert a row",
	     "INSERT INTO events (device_id, step, started_at, ended_at, outcome) "
	     "VALUES (1, 'verify', 1, 1, 'ok')",
	     -1,
	     "inserted outside fleetstation"},
	    {"insert a row with a copied hash",
	     "INSERT INTO events (device_id, step, started_at, ended_at, outcome, hash) "
	     "SELECT device_id, step, started_at, ended_at, outcome, hash FROM events "
	     "WHERE id = (SELECT max(id) FROM events)",
	     -1,
	     "inserted outside fleetstation"},
	    {"swap a certificate's DER",
	     "UPDATE certificates SET der = (SELECT der FROM certificates WHERE id = 2) WHERE id = "
	     "1",
	     -1,
	     "certificate 51 was changed"},
	    {"move a certificate to another device",
	     "UPDATE certificates SET device_id = 2 WHERE id = 1",
	     -1,
	     "certificate 51 was moved"},
	    {"delete a certificate",
	     "DELETE FROM certificates WHERE id = 2",
	     -1,
	     "certificate 52 was deleted"},
	    {"set a certificate state by hand",
	     "UPDATE certificates SET state = 'issued' WHERE id = 3",
	     -1,
	     "certificate 53 is issued but the audit chain moved it to verified"},
	    {"insert a certificate",
	     "INSERT INTO certificates (device_id, serial_hex, aws_cert_id, der, state, "
	     "created_at, "
	     "updated_at) SELECT device_id, 'FEED', aws_cert_id || 'x', der, state, 1, 1 FROM "
	     "certificates WHERE id = 1",
	     -1,
	     "certificate FEED is not in the audit chain"},
	};

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < 3; i++) {
		g_autofree gchar *uid = g_strdup_printf("SN-TAMPER-%u", i);
		test_provision(db, 0, uid, 0x51 + i, NULL);
	}
	{
		g_autoptr(GError) failure =
		    g_error_new_literal(FST_ERROR, FST_ERROR_TIMED_OUT, "no answer");
		g_autoptr(FstDeviceInfo) info = test_info_new("SN-TAMPER-F", "1.0");
		gint64 id = fst_db_begin_device(db, 0, info, NULL, &error);
		g_assert_true(fst_db_finish_device(db, id, NULL, failure, &error));
		g_assert_no_error(error);
	}
	g_clear_pointer(&db, fst_db_close);
	clean = test_audit(fx->path);
	g_assert_true(clean->ok);
	g_assert_cmpint(clean->certificates, ==, 3);
	/* 13 events of the pipeline's steps, 10 `records` binding the rows the
	 * single-record functions wrote (fst_db_begin_device(), ...) */
	g_assert_cmpint(clean->events, ==, 23);
	g_assert_cmpint(clean->head_id, ==, clean->events);
	pristine = test_read_file(fx->path);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *copy = g_strdup_printf("%s/tamper-%u.db", fx->tmpdir, i);
		g_autoptr(FstAuditResult) result = NULL;

		g_test_message("tamper: %s", cases[i].name);
		g_assert_true(g_file_set_contents(copy,
		                                  g_bytes_get_data(pristine, NULL),
		                                  (gssize)g_bytes_get_size(pristine),
		                                  NULL));
		test_sqlite3_cli(copy, cases[i].sql);
		result = test_audit(copy);
		g_assert_false(result->ok);
		g_assert_nonnull(result->problem);
		g_test_message("found: %s", result->problem);
		g_assert_nonnull(strstr(result->problem, cases[i].problem));
		if (cases[i].first_bad_id >= 0)
			g_assert_cmpint(result->first_bad_id, ==, cases[i].first_bad_id);
	}
}

/*
 * Edits of the rows that reports, CRLs and registrations are built from,
 * each of which the audit must catch: every bound row's content is in the
 * chain, event texts are hashed with their exact bytes, and a chain cut
 * back at its end leaves rows that its remaining events do not bind.
 */
typedef struct {
	const gchar *path;
	const gchar *sql;
	const gchar *problem;
} TestTamperKind;

static const TestTamperKind test_tamper_kinds[] = {
    {"revocation-reason",
     "UPDATE certificates SET revocation_reason = 'affiliationChanged' WHERE state = 'revoked'",
     "certificates row 3 was changed outside fleetstation"},
    {"revoked-at",
     "UPDATE certificates SET revoked_at = revoked_at - 86400000000 WHERE state = 'revoked'",
     "certificates row 3 was changed outside fleetstation"},
    {"not-after",
     "UPDATE certificates SET not_after = not_after + 86400 WHERE id = 1",
     "certificates row 1 was changed outside fleetstation"},
    {"subject",
     "UPDATE certificates SET subject = 'CN=device SN-OTHER' WHERE id = 1",
     "certificates row 1 was changed outside fleetstation"},
    {"certificate-lot",
     "UPDATE certificates SET lot_id = NULL WHERE id = 1",
     "certificates row 1 was changed outside fleetstation"},
    {"certificate-operator",
     "UPDATE certificates SET operator_id = NULL WHERE id = 1",
     "certificates row 1 was changed outside fleetstation"},
    {"certificate-ca",
     "UPDATE certificates SET ca_id = NULL WHERE id = 1",
     "certificates row 1 was changed outside fleetstation"},
    {"device-state",
     "UPDATE devices SET state = 'provisioned' WHERE state = 'failed'",
     "devices row 4 was changed outside fleetstation"},
    {"device-uid",
     "UPDATE devices SET uid = 'SN-SWAPPED' WHERE id = 1",
     "devices row 1 was changed outside fleetstation"},
    {"object-hash",
     "UPDATE device_objects SET sha256 = lower(hex(randomblob(32))) WHERE id = 1",
     "device_objects row 1 was changed outside fleetstation"},
    {"object-deleted",
     "DELETE FROM device_objects WHERE id = 2",
     "device_objects row 2 was deleted"},
    {"last-object-deleted",
     "DELETE FROM device_objects WHERE id = 8",
     "device_objects row 8 was deleted"},
    {"every-lot-deleted", "DELETE FROM lots", "lots row 1 was deleted"},
    {"object-inserted",
     "INSERT INTO device_objects (device_id, certificate_id, kind, sha256, length, written_at) "
     "SELECT device_id, certificate_id, kind, sha256, length, written_at FROM device_objects "
     "WHERE id = 1",
     "device_objects row 9 is not in the audit chain"},
    {"operator-renamed",
     "UPDATE operators SET name = 'Mallory'",
     "operators row 1 was changed outside fleetstation"},
    {"lot-renamed",
     "UPDATE lots SET name = 'LOT-OTHER'",
     "lots row 1 was changed outside fleetstation"},
    {"station-renamed",
     "UPDATE stations SET name = 'line-9'",
     "stations row 1 was changed outside fleetstation"},
    {"detail-after-nul",
     "UPDATE events SET detail = CAST(CAST(detail AS BLOB) || x'00' || "
     "CAST(' and a hidden note' AS BLOB) AS TEXT) WHERE id = "
     "(SELECT min(event_id) FROM event_steps WHERE step = 'identify')",
     "was changed: its content no longer matches its hash"},
    /* the last device's final commit (its verify and failed steps) dropped */
    {"head-moved-back",
     "DELETE FROM events WHERE id >= (SELECT max(event_id) FROM event_steps WHERE step = "
     "'verify');"
     "UPDATE db_properties SET value = (SELECT id || ' ' || lower(hex(hash)) FROM events "
     "WHERE id = (SELECT max(id) FROM events)) WHERE key = 'audit-head'",
     "devices row 4 was changed outside fleetstation"},
};

/* four devices through the pipeline's log, with an operator, a lot, a
 * profile and a CA; the third one's certificate revoked, the last failed */
static void
test_tamper_populate(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(path, &error);
	gint64 station_id;

	g_assert_no_error(error);
	station_id = fst_db_ensure_station(db, "line-1", "host", "1.0", &error);
	g_assert_no_error(error);
	g_assert_true(fst_db_set_context(db, "Ana Lima", "LOT-1", &error));
	for (guint i = 0; i < 4; i++) {
		g_autofree gchar *uid = g_strdup_printf("SN-AUDIT-%u", i);
		g_autoptr(FstDeviceInfo) info = test_info_new(uid, "1.0.0");
		g_autoptr(FstDbCert) cert = test_cert_new(0xA0 + i, uid);
		g_autoptr(GBytes) roots = g_bytes_new_static("roots", 5);
		g_autoptr(FstDbDeviceLog) log =
		    fst_db_device_log_new(station_id, info, "/dev/x", &error);
		gint64 now = g_get_real_time();

		g_assert_no_error(error);
		fst_db_device_log_add_event(log, "identify", now, now + 1, "ok", "model sensor-x1");
		fst_db_device_log_add_certificate(log, cert);
		fst_db_device_log_add_object(
		    log, cert->serial_hex, FST_OBJECT_DEVICE_CERT, cert->der, NULL);
		fst_db_device_log_add_object(
		    log, cert->serial_hex, FST_OBJECT_TRUST_ROOTS, roots, "aa");
		g_assert_true(fst_db_device_log_commit(db, log, &error));
		g_assert_no_error(error);
		fst_db_device_log_add_event(log, "verify", now + 1, now + 2, "ok", "identical");
		if (i == 3) {
			g_autoptr(GError) failure =
			    g_error_new_literal(FST_ERROR, FST_ERROR_TIMED_OUT, "no answer");
			fst_db_device_log_finish(log, cert->serial_hex, failure);
		} else {
			fst_db_device_log_finish(log, cert->serial_hex, NULL);
		}
		g_assert_true(fst_db_device_log_commit(db, log, &error));
		g_assert_no_error(error);
		if (i == 2) {
			g_assert_true(fst_db_revoke_certificate(db, "A2", "keyCompromise", &error));
			g_assert_no_error(error);
		}
	}
}

static void
test_audit_tamper_kind(TestFixture *fx, gconstpointer user_data)
{
	const TestTamperKind *kind = user_data;
	g_autoptr(FstAuditResult) clean = NULL;
	g_autoptr(FstAuditResult) result = NULL;

	test_tamper_populate(fx->path);
	clean = test_audit(fx->path);
	g_assert_true(clean->ok);
	g_assert_cmpint(clean->certificates, ==, 4);
	g_assert_cmpint(clean->rows, >, 4 + 4 + 8);

	test_sql_exec(fx->path, kind->sql);
	result = test_audit(fx->path);
	g_assert_false(result->ok);
	g_test_message("found: %s", result->problem);
	g_assert_nonnull(strstr(result->problem, kind->problem));
}

/* the chain head kept outside the database: a chain that still passes
 * through it verifies, as it grows; one rewritten from before it (a full
 * rebuild by someone with this source, which no check inside the file can
 * see) or cut back behind it does not */
static void
test_audit_rechain(const gchar *path, gint64 from_id)
{
	g_autoptr(sqlite3) db = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *prev = NULL;
	g_autofree gchar *head = NULL;
	gint64 last = 0;

	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(
	    sqlite3_prepare_v2(db,
	                       "SELECT id, device_id, station_id, operator_id, lot_id, "
	                       "step, started_at, ended_at, outcome, detail, hash, rows "
	                       "FROM events ORDER BY id",
	                       -1,
	                       &stmt,
	                       NULL),
	    ==,
	    SQLITE_OK);
	prev = g_strdup(FST_AUDIT_GENESIS);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
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
		    .rows = sqlite3_column_blob(stmt, 11),
		    .rows_len = (gsize)sqlite3_column_bytes(stmt, 11),
		};
		gchar *hash;
		if (row.id < from_id) {
			g_free(prev);
			prev = fst_audit_hash_from_bytes(sqlite3_column_blob(stmt, 10),
			                                 (gsize)sqlite3_column_bytes(stmt, 10));
			continue;
		}
		hash = fst_audit_event_hash(prev, &row);
		{
			g_autofree gchar *sql = g_strdup_printf(
			    "UPDATE events SET hash = x'%s' WHERE id = %" G_GINT64_FORMAT,
			    hash,
			    row.id);
			g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
		}
		g_free(prev);
		prev = hash;
		last = row.id;
	}
	g_clear_pointer(&stmt, sqlite3_finalize);
	head = g_strdup_printf("UPDATE db_properties SET value = '%" G_GINT64_FORMAT
	                       " %s' WHERE key = 'audit-head'",
	                       last,
	                       prev);
	g_assert_cmpint(sqlite3_exec(db, head, NULL, NULL, NULL), ==, SQLITE_OK);
}

static void
test_audit_anchor(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAuditAnchor) anchor = NULL;
	g_autoptr(FstAuditAnchor) parsed = NULL;
	g_autoptr(GPtrArray) anchors = g_ptr_array_new();
	g_autoptr(FstAuditResult) result = NULL;
	g_autoptr(GBytes) pristine = NULL;
	g_autofree gchar *data = NULL;
	g_autofree gchar *copy = g_build_filename(fx->tmpdir, "copy.db", NULL);

	test_tamper_populate(fx->path);
	anchor = fst_audit_read_anchor(fx->path, "line-1", &error);
	g_assert_no_error(error);
	g_assert_cmpint(anchor->head_id, >, 0);
	g_assert_nonnull(anchor->database_id);
	g_assert_cmpstr(anchor->station, ==, "line-1");
	/* the file format round-trips */
	data = fst_audit_anchor_to_data(anchor);
	parsed = fst_audit_anchor_parse(data, strlen(data), "checkpoint-1", &error);
	g_assert_no_error(error);
	g_assert_cmpint(parsed->head_id, ==, anchor->head_id);
	g_assert_cmpstr(parsed->head_hash, ==, anchor->head_hash);
	g_assert_cmpstr(parsed->database_id, ==, anchor->database_id);
	g_assert_cmpint(parsed->created_at, ==, anchor->created_at);
	g_ptr_array_add(anchors, parsed);

	/* the chain grows past the anchor: still good */
	{
		g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
		g_assert_no_error(error);
		test_provision(db, 0, "SN-LATER", 0xB1, NULL);
	}
	result = fst_audit_verify_anchored(fx->path, anchors, &error);
	g_assert_no_error(error);
	g_assert_true(result->ok);
	g_assert_true(parsed->matched);
	g_clear_pointer(&result, fst_audit_result_free);
	pristine = test_read_file(fx->path);

	/* a detail rewritten and the chain rebuilt from there: only the anchor
	 * tells */
	test_sql_exec(
	    fx->path,
	    "UPDATE events SET detail = replace(detail, 'model sensor-x1', 'model other') "
	    "WHERE id = (SELECT min(event_id) FROM event_steps WHERE step = 'identify')");
	test_audit_rechain(fx->path, 1);
	result = fst_audit_verify(fx->path, &error);
	g_assert_no_error(error);
	g_assert_true(result->ok);
	g_clear_pointer(&result, fst_audit_result_free);
	result = fst_audit_verify_anchored(fx->path, anchors, &error);
	g_assert_no_error(error);
	g_assert_false(result->ok);
	g_test_message("found: %s", result->problem);
	g_assert_nonnull(strstr(result->problem, "is not the one anchored checkpoint-1"));
	g_assert_cmpint(result->first_bad_id, ==, parsed->head_id);
	g_clear_pointer(&result, fst_audit_result_free);

	/* the chain cut back before the anchor and its end re-sealed */
	g_assert_true(g_file_set_contents(
	    copy, g_bytes_get_data(pristine, NULL), (gssize)g_bytes_get_size(pristine), NULL));
	{
		g_autofree gchar *sql = g_strdup_printf(
		    "DELETE FROM events WHERE id >= %" G_GINT64_FORMAT, parsed->head_id);
		test_sql_exec(copy, sql);
	}
	test_audit_rechain(copy, 1);
	result = fst_audit_verify_anchored(copy, anchors, &error);
	g_assert_no_error(error);
	g_assert_false(result->ok);
	g_test_message("found: %s", result->problem);
	g_assert_nonnull(strstr(result->problem, "events were dropped and the head moved back"));
	g_clear_pointer(&result, fst_audit_result_free);

	/* an anchor of another database is refused */
	g_free(parsed->database_id);
	parsed->database_id = g_strdup("00000000-0000-0000-0000-000000000000");
	result = fst_audit_verify_anchored(fx->path, anchors, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_null(result);
}

/* the pipeline's way: a device's records gathered in a log and written in
 * two commits; nothing is on disk before the first, everything after it */
static void
test_device_log_two_commits(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(FstDeviceInfo) info = test_info_new("LOG-1", "1.0.0");
	g_autoptr(FstDbCert) cert = test_cert_new(0x4C01, "LOG-1");
	g_autoptr(GBytes) roots = g_bytes_new_static("roots", 5);
	g_autoptr(FstDbDeviceLog) log = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autofree gchar *state = NULL;
	gint64 station_id;
	gint64 now = g_get_real_time();

	g_assert_no_error(error);
	station_id = fst_db_ensure_station(db, "line-1", NULL, NULL, &error);
	g_assert_no_error(error);
	log = fst_db_device_log_new(station_id, info, "/dev/ttyUSB0", &error);
	g_assert_no_error(error);
	fst_db_device_log_add_event(log, "identify", now, now + 5, "ok", "model sensor-x1");
	fst_db_device_log_add_certificate(log, cert);
	fst_db_device_log_add_event(log, "issue", now + 5, now + 9, "ok", NULL);
	fst_db_device_log_add_object(
	    log, cert->serial_hex, FST_OBJECT_DEVICE_CERT, cert->der, "leaf");
	fst_db_device_log_add_object(log, cert->serial_hex, FST_OBJECT_TRUST_ROOTS, roots, "aa");
	g_assert_cmpuint(fst_db_device_log_get_pending(log), ==, 5);
	g_assert_cmpint(fst_db_device_log_get_device_id(log), ==, 0);

	/* nothing written yet: a raw connection sees no device (the station's
	 * row is bound by a `records` event of its own) */
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM devices"), ==, 0);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM event_steps WHERE step != 'records'"),
	    ==,
	    0);

	/* first commit: device, certificate, objects, events, in that order */
	g_assert_true(fst_db_device_log_commit(db, log, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(fst_db_device_log_get_pending(log), ==, 0);
	g_assert_cmpint(fst_db_device_log_get_device_id(log), >, 0);
	state = test_sql_text(fx->path, "SELECT state FROM devices WHERE uid = 'LOG-1'");
	g_assert_cmpstr(state, ==, "in-progress");
	g_clear_pointer(&state, g_free);
	state = test_sql_text(fx->path, "SELECT state FROM certificates WHERE serial_hex = '4C01'");
	g_assert_cmpstr(state, ==, "issued");
	g_clear_pointer(&state, g_free);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM device_objects"), ==, 2);
	state = test_sql_text(fx->path, TEST_SQL_STEPS);
	g_assert_cmpstr(state, ==, "identify,certificate-issued,issue");
	/* one event holds the steps of the commit, and binds its rows */
	g_assert_cmpint(test_sql_int(fx->path,
	                             "SELECT count(*) FROM events WHERE step = 'device-log' AND "
	                             "rows IS NOT NULL"),
	                ==,
	                1);
	g_clear_pointer(&state, g_free);

	/* second commit: the rest and the final states */
	fst_db_device_log_set_certificate_state(log, cert->serial_hex, FST_CERT_STATE_BURNED);
	fst_db_device_log_add_event(log, "burn", now + 9, now + 20, "ok", NULL);
	fst_db_device_log_add_event(log, "verify", now + 20, now + 30, "ok", "identical");
	fst_db_device_log_finish(log, cert->serial_hex, NULL);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM event_steps WHERE step != 'records'"),
	    ==,
	    3);
	g_assert_true(fst_db_device_log_commit(db, log, &error));
	g_assert_no_error(error);
	state = test_sql_text(fx->path, "SELECT state FROM devices WHERE uid = 'LOG-1'");
	g_assert_cmpstr(state, ==, "provisioned");
	g_clear_pointer(&state, g_free);
	state = test_sql_text(fx->path, "SELECT state FROM certificates WHERE serial_hex = '4C01'");
	g_assert_cmpstr(state, ==, "verified");
	g_clear_pointer(&state, g_free);
	state = test_sql_text(fx->path, TEST_SQL_STEPS);
	g_assert_cmpstr(state,
	                ==,
	                "identify,certificate-issued,issue,certificate-state,burn,verify,"
	                "certificate-state,provisioned");

	/* an empty log commits nothing and succeeds */
	g_assert_true(fst_db_device_log_commit(db, log, &error));
	g_assert_no_error(error);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM event_steps WHERE step != 'records'"),
	    ==,
	    8);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM events WHERE step != 'records'"), ==, 2);

	/* the audit chain covers every row written in the two commits */
	fst_db_close(g_steal_pointer(&db));
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
}

/* a device's events include the refusals of boards that gave its id while
 * it was in flight, recorded with no device: found by the id their detail
 * starts with, at identify with outcome busy, and no other event of no
 * device */
static void
test_events_busy_refusals(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GString) seen = g_string_new(NULL);
	gint64 now = g_get_real_time();
	gint64 device_id;
	const struct {
		const gchar *step;
		const gchar *outcome;
		const gchar *detail;
	} loose[] = {
	    {"identify",
	     "busy",
	     "device BUSY-1 is being provisioned on /dev/ttyA at the same time: refused on "
	     "/dev/ttyB"},
	    {"identify", "busy", "device BUSY-10 is being provisioned on /dev/ttyA: refused"},
	    {"identify", "timed-out", "device BUSY-1 gave no answer"},
	    {"connect", "busy", "device BUSY-1 port in use"},
	    {"identify",
	     "busy",
	     "device BUSY-1 is being provisioned by another process with workspace /w open"},
	};

	g_assert_no_error(error);
	device_id = test_provision(db, 0, "BUSY-1", 0xB0551, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(loose); i++) {
		g_assert_true(fst_db_add_event(
		    db, 0, loose[i].step, now, now + 1, loose[i].outcome, loose[i].detail, &error));
		g_assert_no_error(error);
	}
	events = fst_db_list_events(db, device_id, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *ev = g_ptr_array_index(events, i);
		if (ev->device_id == 0)
			g_string_append_printf(seen, "%s%s", seen->len > 0 ? "|" : "", ev->detail);
	}
	g_assert_cmpstr(
	    seen->str,
	    ==,
	    "device BUSY-1 is being provisioned on /dev/ttyA at the same time: refused on "
	    "/dev/ttyB|device BUSY-1 is being provisioned by another process with "
	    "workspace /w open");
	/* in id order, after the device's own */
	g_assert_cmpint(
	    ((FstDbEvent *)g_ptr_array_index(events, events->len - 1))->device_id, ==, 0);
}

/* a commit that fails on one record writes none of it, not even the device
 * row; the log keeps only its good events, and the failure is recorded with
 * them */
static void
test_device_log_failed_commit(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(FstDeviceInfo) info = test_info_new("LOG-2", "1.0.0");
	g_autoptr(FstDbCert) cert = test_cert_new(0x4C02, "LOG-2");
	g_autoptr(FstDbDeviceLog) log = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autoptr(GError) failure =
	    g_error_new_literal(FST_ERROR, FST_ERROR_TIMED_OUT, "device stopped answering");
	g_autofree gchar *text = NULL;
	gint64 now = g_get_real_time();
	gint64 objects = 0;

	g_assert_no_error(error);
	/* the same certificate as another device's: refused as a duplicate */
	test_provision(db, 0, "LOG-OTHER", 0x4C02, NULL);
	/* a uid the database refuses is refused when the log starts */
	{
		g_autoptr(FstDeviceInfo) bad = test_info_new("LOG\x01-BAD", "1.0.0");
		g_autoptr(FstDbDeviceLog) none = fst_db_device_log_new(0, bad, NULL, &error);
		g_assert_null(none);
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_clear_error(&error);
	}
	log = fst_db_device_log_new(0, info, NULL, &error);
	g_assert_no_error(error);
	fst_db_device_log_add_event(log, "identify", now, now + 1, "ok", NULL);
	fst_db_device_log_add_certificate(log, cert);
	fst_db_device_log_add_event(log, "issue", now, now + 1, "ok", NULL);
	g_assert_false(fst_db_device_log_commit(db, log, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
	g_assert_nonnull(strstr(error->message, "LOG-2"));
	g_assert_nonnull(strstr(error->message, "nothing of this step was written"));
	g_clear_error(&error);
	/* the two events wait for the next commit; the certificate is dropped */
	g_assert_cmpuint(fst_db_device_log_get_pending(log), ==, 2);
	g_assert_cmpint(fst_db_device_log_get_device_id(log), ==, 0);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM devices WHERE uid = 'LOG-2'"), ==, 0);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM event_steps WHERE step = 'identify'"),
	    ==,
	    0);

	/* a bad event fails its commit the same way, and is not kept */
	fst_db_device_log_add_event(log, "Not A Step", now, now + 1, "ok", NULL);
	g_assert_false(fst_db_device_log_commit(db, log, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "Not A Step"));
	g_clear_error(&error);
	g_assert_cmpuint(fst_db_device_log_get_pending(log), ==, 2);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM devices WHERE uid = 'LOG-2'"), ==, 0);

	/* so do a bad object (checked as it is logged) and a bad serial */
	objects = test_sql_int(fx->path, "SELECT count(*) FROM device_objects");
	fst_db_device_log_add_object(log, NULL, FST_OBJECT_LAST, cert->der, NULL);
	g_assert_false(fst_db_device_log_commit(db, log, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "object kind"));
	g_clear_error(&error);
	fst_db_device_log_add_object(log, "not hex", FST_OBJECT_DEVICE_CERT, cert->der, NULL);
	g_assert_false(fst_db_device_log_commit(db, log, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM devices WHERE uid = 'LOG-2'"), ==, 0);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM device_objects"), ==, objects);
	g_assert_cmpuint(fst_db_device_log_get_pending(log), ==, 2);

	/* the failure is recorded, with the device and the steps before it */
	fst_db_device_log_add_event(log, "issue", now, now + 1, "timed-out", failure->message);
	fst_db_device_log_finish(log, cert->serial_hex, failure);
	g_assert_true(fst_db_device_log_commit(db, log, &error));
	g_assert_no_error(error);
	text = test_sql_text(fx->path, "SELECT state FROM devices WHERE uid = 'LOG-2'");
	g_assert_cmpstr(text, ==, "failed");
	g_clear_pointer(&text, g_free);
	text = test_sql_text(fx->path, "SELECT detail FROM event_steps WHERE step = 'failed'");
	g_assert_nonnull(strstr(text, "was not recorded"));
	g_clear_pointer(&text, g_free);
	text =
	    test_sql_text(fx->path,
	                  "SELECT group_concat(step || ' ' || outcome, ',') FROM (SELECT s.step, "
	                  "s.outcome FROM event_steps s JOIN devices d ON d.id = s.device_id "
	                  "WHERE d.uid = 'LOG-2' ORDER BY s.event_id, s.step_index)");
	g_assert_cmpstr(text, ==, "identify ok,issue ok,issue timed-out,failed failed");
	g_assert_cmpuint(fst_db_device_log_get_pending(log), ==, 0);

	/* a failed commit that ends the device keeps nothing */
	{
		g_autoptr(FstDeviceInfo) info3 = test_info_new("LOG-3", "1.0.0");
		g_autoptr(FstDbDeviceLog) log3 = fst_db_device_log_new(0, info3, NULL, &error);
		g_assert_no_error(error);
		fst_db_device_log_add_event(log3, "identify", now, now + 1, "ok", NULL);
		fst_db_device_log_add_certificate(log3, cert);
		fst_db_device_log_finish(log3, cert->serial_hex, failure);
		g_assert_false(fst_db_device_log_commit(db, log3, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
		g_clear_error(&error);
		g_assert_cmpuint(fst_db_device_log_get_pending(log3), ==, 0);
	}

	fst_db_close(g_steal_pointer(&db));
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
}

/*
 * Schema v4. A device provisioned through a log as the pipeline does it (two
 * commits), with its certificate in @slot, replacing @old_serial if not
 * %NULL; @failure makes the attempt fail after the burn. Returns whether the
 * second commit succeeded (the first must).
 */
static gboolean
test_log_provision(FstDb *db,
                   const gchar *uid,
                   guint64 serial,
                   gint slot,
                   const gchar *old_serial,
                   const GError *failure,
                   GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new(uid, "2.0.0");
	g_autoptr(FstDbCert) cert = test_cert_new(serial, uid);
	g_autoptr(FstDbDeviceLog) log = NULL;
	gint64 now = g_get_real_time();

	cert->slot = slot;
	log = fst_db_device_log_new(0, info, "/dev/ttyUSB1", &error_local);
	g_assert_no_error(error_local);
	fst_db_device_log_add_event(log, "identify", now, now + 1, "ok", NULL);
	fst_db_device_log_add_certificate(log, cert);
	fst_db_device_log_add_object(
	    log, cert->serial_hex, FST_OBJECT_DEVICE_CERT, cert->der, NULL);
	if (old_serial != NULL)
		fst_db_device_log_supersede(log, old_serial, cert->serial_hex);
	g_assert_true(fst_db_device_log_commit(db, log, &error_local));
	g_assert_no_error(error_local);
	fst_db_device_log_add_event(log, "burn", now + 1, now + 2, "ok", NULL);
	if (failure != NULL)
		fst_db_device_log_set_certificate_state(
		    log, cert->serial_hex, FST_CERT_STATE_BURNED);
	fst_db_device_log_finish(log, cert->serial_hex, failure);
	return fst_db_device_log_commit(db, log, error);
}

static void
test_sql_register(const gchar *path, const gchar *serial, const gchar *target)
{
	g_autofree gchar *sql = g_strdup_printf(
	    "INSERT INTO registrations (certificate_id, target, state, created_at, updated_at) "
	    "SELECT id, '%s', 'done', 1, 1 FROM certificates WHERE serial_hex = '%s'",
	    target,
	    serial);
	test_sql_exec(path, sql);
}

/* a returning device gets a new certificate in slot B: the old one is
 * superseded in the final commit and queued for deactivation where it was
 * registered, or everywhere (`*`) when the queue never registered it */
static void
test_rework_supersede(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(FstDbCert) active = NULL;
	g_autoptr(FstDbCert) none = NULL;
	g_autoptr(GPtrArray) regs = NULL;
	g_autoptr(GPtrArray) counts = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autofree gchar *text = NULL;
	FstDbStats stats = {0};
	FstDbRegistration *reg;

	g_assert_no_error(error);
	/* unknown device: no certificate, no error */
	none = fst_db_get_active_certificate(db, "SUP-1", &error);
	g_assert_no_error(error);
	g_assert_null(none);

	g_assert_true(test_log_provision(db, "SUP-1", 0x5A01, 0, NULL, NULL, &error));
	g_assert_no_error(error);
	active = fst_db_get_active_certificate(db, "SUP-1", &error);
	g_assert_no_error(error);
	g_assert_nonnull(active);
	g_assert_cmpstr(active->serial_hex, ==, "5A01");
	g_assert_cmpint(active->slot, ==, 0);
	g_assert_cmpint(active->state, ==, FST_CERT_STATE_VERIFIED);
	g_clear_pointer(&active, fst_db_cert_free);
	test_sql_register(fx->path, "5A01", "aws-iot:123456789012:eu-west-1");
	test_sql_register(fx->path, "5A01", "aws-iot:123456789012:us-east-1");

	/* the new certificate goes to slot B and supersedes the old one */
	g_assert_true(test_log_provision(db, "SUP-1", 0x5A02, 1, "5a01", NULL, &error));
	g_assert_no_error(error);
	active = fst_db_get_active_certificate(db, "SUP-1", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(active->serial_hex, ==, "5A02");
	g_assert_cmpint(active->slot, ==, 1);
	text = test_sql_text(fx->path, "SELECT state FROM certificates WHERE serial_hex = '5A01'");
	g_assert_cmpstr(text, ==, "superseded");
	g_clear_pointer(&text, g_free);
	text = test_sql_text(fx->path, "SELECT slot FROM certificates WHERE serial_hex = '5A02'");
	g_assert_cmpstr(text, ==, "1");
	g_clear_pointer(&text, g_free);
	text = test_sql_text(fx->path,
	                     "SELECT detail FROM event_steps WHERE step = 'certificate-state' AND "
	                     "detail LIKE 'certificate 5A01:%' ORDER BY event_id DESC, step_index "
	                     "DESC LIMIT 1");
	g_assert_cmpstr(text, ==, "certificate 5A01: verified -> superseded (by 5A02)");
	g_clear_pointer(&text, g_free);
	regs = fst_db_list_registrations(db, "deactivate", NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(regs->len, ==, 2);
	reg = g_ptr_array_index(regs, 0);
	g_assert_cmpstr(reg->serial_hex, ==, "5A01");
	g_assert_cmpstr(reg->target, ==, "aws-iot:123456789012:eu-west-1");
	g_assert_cmpstr(reg->action, ==, "deactivate");
	g_assert_cmpstr(reg->state, ==, "pending");
	g_assert_cmpint(reg->attempts, ==, 0);
	g_assert_cmpint(reg->created_at, >, 0);
	g_assert_cmpuint(strlen(reg->aws_cert_id), ==, 64);
	g_assert_cmpstr(((FstDbRegistration *)g_ptr_array_index(regs, 1))->target,
	                ==,
	                "aws-iot:123456789012:us-east-1");
	g_clear_pointer(&regs, g_ptr_array_unref);

	/* never registered through the queue (JITP, a bulk export): target `*` */
	g_assert_true(test_log_provision(db, "SUP-2", 0x5B01, 0, NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(test_log_provision(db, "SUP-2", 0x5B02, 1, "5B01", NULL, &error));
	g_assert_no_error(error);
	regs = fst_db_list_registrations(db, "deactivate", "pending", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(regs->len, ==, 3);
	reg = g_ptr_array_index(regs, 2);
	g_assert_cmpstr(reg->serial_hex, ==, "5B01");
	g_assert_cmpstr(reg->target, ==, "*");
	g_clear_pointer(&regs, g_ptr_array_unref);
	regs = fst_db_list_registrations(db, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(regs->len, ==, 5);
	g_clear_pointer(&regs, g_ptr_array_unref);
	regs = fst_db_list_registrations(db, "register", "done", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(regs->len, ==, 2);
	g_clear_pointer(&regs, g_ptr_array_unref);
	regs = fst_db_list_registrations(db, "unregister", NULL, &error);
	g_assert_null(regs);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "register, deactivate"));
	g_clear_error(&error);
	regs = fst_db_list_registrations(db, NULL, "stuck", &error);
	g_assert_null(regs);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* what `ca list` shows for the issuer of all of them */
	counts = fst_db_count_registrations_by_issuer(
	    db, "D0E9A5C38F1A7DB1AD8C8B3D3E5C0A6D7F1E42A9A0F7C9B6C6D3B1A0F0E9D8C7", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(counts->len, ==, 0);
	g_clear_pointer(&counts, g_ptr_array_unref);
	{
		g_autofree gchar *issuer =
		    g_compute_checksum_for_string(G_CHECKSUM_SHA256, "issuing ca", -1);
		g_autofree gchar *upper = g_ascii_strup(issuer, -1);
		FstDbRegistrationCount *count;
		counts = fst_db_count_registrations_by_issuer(db, upper, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(counts->len, ==, 2);
		count = g_ptr_array_index(counts, 0);
		g_assert_cmpstr(count->action, ==, "register");
		g_assert_cmpstr(count->state, ==, "done");
		g_assert_cmpint(count->count, ==, 2);
		count = g_ptr_array_index(counts, 1);
		g_assert_cmpstr(count->action, ==, "deactivate");
		g_assert_cmpstr(count->state, ==, "pending");
		g_assert_cmpint(count->count, ==, 3);
	}

	/* the statistics count the new state */
	g_assert_true(fst_db_get_stats(db, &stats, &error));
	g_assert_no_error(error);
	g_assert_cmpint(stats.certificates_by_state[FST_CERT_STATE_SUPERSEDED], ==, 2);
	g_assert_cmpint(stats.certificates_by_state[FST_CERT_STATE_VERIFIED], ==, 2);
	fst_db_stats_clear(&stats);

	fst_db_close(g_steal_pointer(&db));
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 4);
}

/* a failed attempt supersedes only what its caller logged (a single-slot
 * device whose old certificate was overwritten before a later step failed);
 * an old certificate of another device, or one not in service, fails the
 * final commit, which writes nothing */
static void
test_rework_supersede_refused(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(GError) failure =
	    g_error_new_literal(FST_ERROR, FST_ERROR_VERIFY_FAILED, "read back differs");
	g_autoptr(FstDbCert) active = NULL;
	g_autoptr(GPtrArray) regs = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autofree gchar *text = NULL;
	gint64 events;

	g_assert_no_error(error);
	g_assert_true(test_log_provision(db, "REF-1", 0x6A01, 0, NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(test_log_provision(db, "REF-2", 0x6B01, 0, NULL, NULL, &error));
	g_assert_no_error(error);

	/* the new attempt fails before the old credentials were touched (A/B,
	 * before ACTIVATE: the caller logs no supersede): the old certificate
	 * stays in service */
	g_assert_true(test_log_provision(db, "REF-1", 0x6A02, 1, NULL, failure, &error));
	g_assert_no_error(error);
	active = fst_db_get_active_certificate(db, "REF-1", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(active->serial_hex, ==, "6A01");
	g_assert_cmpint(active->slot, ==, 0);
	g_clear_pointer(&active, fst_db_cert_free);
	regs = fst_db_list_registrations(db, "deactivate", NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(regs->len, ==, 0);
	g_clear_pointer(&regs, g_ptr_array_unref);

	/* REF-2's certificate cannot be superseded by REF-1's */
	events = test_sql_int(fx->path, "SELECT count(*) FROM events");
	g_assert_false(test_log_provision(db, "REF-1", 0x6A03, 1, "6B01", NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "6B01"));
	g_assert_nonnull(strstr(error->message, "another device"));
	g_assert_nonnull(strstr(error->message, "nothing of this step was written"));
	g_clear_error(&error);
	/* only the first commit of that attempt (one event: identify,
	 * certificate-issued) is there */
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM events"), ==, events + 1);
	text = test_sql_text(fx->path, "SELECT state FROM certificates WHERE serial_hex = '6A03'");
	g_assert_cmpstr(text, ==, "issued");
	g_clear_pointer(&text, g_free);
	text = test_sql_text(fx->path, "SELECT state FROM certificates WHERE serial_hex = '6B01'");
	g_assert_cmpstr(text, ==, "verified");
	g_clear_pointer(&text, g_free);

	/* an issued certificate (6A02, failed) cannot be superseded, nor an unknown one */
	g_assert_false(test_log_provision(db, "REF-1", 0x6A04, 1, "6A02", NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "cannot become superseded"));
	g_clear_error(&error);
	g_assert_false(test_log_provision(db, "REF-1", 0x6A05, 1, "FFFF", NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);
	regs = fst_db_list_registrations(db, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(regs->len, ==, 0);
	g_clear_pointer(&regs, g_ptr_array_unref);

	/* a single-slot attempt that failed after its certificate replaced the
	 * old one on the device: the old one is superseded all the same, and
	 * queued for deactivation; nothing is in service then */
	g_assert_true(test_log_provision(db, "REF-3", 0x6C01, 0, NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(test_log_provision(db, "REF-3", 0x6C02, 0, "6C01", failure, &error));
	g_assert_no_error(error);
	text = test_sql_text(fx->path, "SELECT state FROM certificates WHERE serial_hex = '6C01'");
	g_assert_cmpstr(text, ==, "superseded");
	g_clear_pointer(&text, g_free);
	text = test_sql_text(fx->path, "SELECT state FROM certificates WHERE serial_hex = '6C02'");
	g_assert_cmpstr(text, ==, "burned");
	g_clear_pointer(&text, g_free);
	active = fst_db_get_active_certificate(db, "REF-3", &error);
	g_assert_no_error(error);
	g_assert_null(active);
	regs = fst_db_list_registrations(db, "deactivate", NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(regs->len, ==, 1);
	g_assert_cmpstr(((FstDbRegistration *)g_ptr_array_index(regs, 0))->serial_hex, ==, "6C01");

	fst_db_close(g_steal_pointer(&db));
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
}

/* superseded sits between registered and revoked: only a certificate in
 * service gets there, and it can only be revoked afterwards */
static void
test_rework_superseded_moves(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(GPtrArray) certs = NULL;
	FstDbCertFilter filter = {.state = "superseded"};

	g_assert_no_error(error);
	g_assert_cmpstr(fst_cert_state_to_string(FST_CERT_STATE_SUPERSEDED), ==, "superseded");
	g_assert_cmpint(FST_CERT_STATE_SUPERSEDED, ==, FST_CERT_STATE_REGISTERED + 1);
	g_assert_cmpint(FST_CERT_STATE_REVOKED, ==, FST_CERT_STATE_SUPERSEDED + 1);
	test_provision(db, 0, "MOVE-1", 0x7001, NULL);
	{
		g_autoptr(FstDeviceInfo) info = test_info_new("MOVE-2", "1.0");
		g_autoptr(FstDbCert) cert = test_cert_new(0x7002, "MOVE-2");
		gint64 dev = fst_db_begin_device(db, 0, info, NULL, &error);
		g_assert_no_error(error);
		g_assert_true(fst_db_add_certificate(db, dev, cert, &error));
		g_assert_no_error(error);
	}
	/* issued and burned certificates were never in service */
	g_assert_false(fst_db_set_certificate_state(db, "7002", FST_CERT_STATE_SUPERSEDED, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	g_assert_true(fst_db_set_certificate_state(db, "7002", FST_CERT_STATE_BURNED, &error));
	g_assert_no_error(error);
	g_assert_false(fst_db_set_certificate_state(db, "7002", FST_CERT_STATE_SUPERSEDED, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	/* verified -> superseded -> (not registered again) -> revoked */
	g_assert_true(fst_db_set_certificate_state(db, "7001", FST_CERT_STATE_SUPERSEDED, &error));
	g_assert_no_error(error);
	g_assert_false(fst_db_set_certificate_state(db, "7001", FST_CERT_STATE_REGISTERED, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	certs = fst_db_list_certificates(db, &filter, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 1);
	g_assert_cmpint(
	    ((FstDbCert *)g_ptr_array_index(certs, 0))->state, ==, FST_CERT_STATE_SUPERSEDED);
	g_assert_true(fst_db_revoke_certificate(db, "7001", "superseded", &error));
	g_assert_no_error(error);
	g_assert_cmpint(test_sql_int(fx->path,
	                             "SELECT count(*) FROM certificates WHERE serial_hex = '7001' "
	                             "AND state = 'revoked'"),
	                ==,
	                1);
	/* the column refuses what the code would refuse */
	{
		g_autoptr(sqlite3) raw = test_sql_open(fx->path);
		g_assert_cmpint(sqlite3_exec(raw,
		                             "UPDATE certificates SET slot = 2 WHERE serial_hex = "
		                             "'7002'",
		                             NULL,
		                             NULL,
		                             NULL),
		                ==,
		                SQLITE_CONSTRAINT);
	}
	/* a slot other than A or B is refused when recording */
	{
		g_autoptr(FstDbCert) cert = test_cert_new(0x7003, "MOVE-1");
		g_autoptr(FstDbDevice) dev = fst_db_find_device(db, "MOVE-1", &error);
		g_assert_no_error(error);
		cert->slot = 2;
		g_assert_false(fst_db_add_certificate(db, dev->id, cert, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error->message, "slot 2"));
	}
}

/* the escrowed key is written in the first commit with its certificate,
 * with an `escrow` event in the chain; bounded, one per certificate */
static void
test_escrow_stored(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(FstDeviceInfo) info = test_info_new("ESC-1", "1.0.0");
	g_autoptr(FstDbCert) cert = test_cert_new(0xE5C1, "ESC-1");
	g_autoptr(FstDbDeviceLog) log = NULL;
	g_autoptr(GBytes) cms = g_bytes_new_static("\x30\x82\x01\x00 enveloped", 14);
	g_autoptr(GBytes) read = NULL;
	g_autoptr(GBytes) big = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autofree gchar *recipient =
	    g_compute_checksum_for_string(G_CHECKSUM_SHA256, "escrow", -1);
	g_autofree gchar *recipient_upper = g_ascii_strup(recipient, -1);
	g_autofree gchar *got = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *cms_sha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, cms);
	gint64 now = g_get_real_time();

	g_assert_no_error(error);
	log = fst_db_device_log_new(0, info, NULL, &error);
	g_assert_no_error(error);
	/* logged before its certificate: written after it, in the same commit */
	fst_db_device_log_add_escrow(log, "e5c1", recipient_upper, cms);
	fst_db_device_log_add_event(log, "identify", now, now + 1, "ok", NULL);
	fst_db_device_log_add_certificate(log, cert);
	g_assert_true(fst_db_device_log_commit(db, log, &error));
	g_assert_no_error(error);
	read = fst_db_get_escrow(db, "E5C1", &got, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(read, cms));
	g_assert_cmpstr(got, ==, recipient);
	text = test_sql_text(fx->path, TEST_SQL_STEPS);
	g_assert_cmpstr(text, ==, "identify,certificate-issued,escrow");
	g_clear_pointer(&text, g_free);
	text = test_sql_text(fx->path, "SELECT detail FROM event_steps WHERE step = 'escrow'");
	g_assert_nonnull(strstr(text, "certificate E5C1: key escrowed to "));
	g_assert_nonnull(strstr(text, recipient));
	g_assert_nonnull(strstr(text, cms_sha));

	/* one escrow per certificate: a second one fails its commit */
	fst_db_device_log_add_escrow(log, "E5C1", recipient, cms);
	g_assert_false(fst_db_device_log_commit(db, log, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
	g_clear_error(&error);
	/* bounded: empty or over 64 KiB is refused, as a bad recipient hash */
	big = g_bytes_new_take(g_malloc0(65537), 65537);
	fst_db_device_log_add_escrow(log, "E5C1", recipient, big);
	g_assert_false(fst_db_device_log_commit(db, log, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "65537 bytes"));
	g_clear_error(&error);
	fst_db_device_log_add_escrow(log, "E5C1", "not-a-hash", cms);
	g_assert_false(fst_db_device_log_commit(db, log, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	/* another device's certificate, or an unknown one */
	test_provision(db, 0, "ESC-OTHER", 0xE5C2, NULL);
	fst_db_device_log_add_escrow(log, "E5C2", recipient, cms);
	g_assert_false(fst_db_device_log_commit(db, log, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	fst_db_device_log_add_escrow(log, "E5C9", recipient, cms);
	g_assert_false(fst_db_device_log_commit(db, log, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM key_escrows"), ==, 1);

	/* no escrow */
	g_assert_null(fst_db_get_escrow(db, "E5C2", NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);

	fst_db_device_log_finish(log, "E5C1", NULL);
	g_assert_true(fst_db_device_log_commit(db, log, &error));
	g_assert_no_error(error);
	fst_db_close(g_steal_pointer(&db));
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);

	/* the chain covers the escrow: a changed, deleted or inserted one shows */
	{
		const struct {
			const gchar *sql;
			const gchar *problem;
		} tampers[] = {
		    {"UPDATE key_escrows SET cms = x'3000'",
		     "key escrow of certificate E5C1 was changed"},
		    {"UPDATE key_escrows SET recipient_sha256 = upper(recipient_sha256)",
		     "key escrow of certificate E5C1 was changed"},
		    {"DELETE FROM key_escrows", "key escrow of certificate E5C1 was deleted"},
		    {"INSERT INTO key_escrows (certificate_id, recipient_sha256, cms, created_at) "
		     "SELECT id, 'aa', x'30', 1 FROM certificates WHERE serial_hex = 'E5C2'",
		     "key escrow of certificate E5C2 is not in the audit chain"},
		};
		g_autoptr(GBytes) clean = test_read_file(fx->path);
		for (guint i = 0; i < G_N_ELEMENTS(tampers); i++) {
			g_autoptr(FstAuditResult) bad = NULL;
			g_assert_true(g_file_set_contents(fx->path,
			                                  g_bytes_get_data(clean, NULL),
			                                  (gssize)g_bytes_get_size(clean),
			                                  NULL));
			test_sql_exec(fx->path, tampers[i].sql);
			bad = test_audit(fx->path);
			g_assert_false(bad->ok);
			g_assert_nonnull(strstr(bad->problem, tampers[i].problem));
		}
	}
}

/* rewriting only the trust roots of a provisioned device: a log with no
 * certificate, finished without a serial */
static void
test_trust_only_job(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(GBytes) roots = g_bytes_new_static("new roots", 9);
	g_autoptr(GError) failure =
	    g_error_new_literal(FST_ERROR, FST_ERROR_STORAGE_FULL, "no room for the roots");
	g_autoptr(FstAuditResult) audit = NULL;
	g_autofree gchar *text = NULL;
	gint64 now = g_get_real_time();

	g_assert_no_error(error);
	g_assert_true(test_log_provision(db, "TRUST-1", 0x7401, 0, NULL, NULL, &error));
	g_assert_no_error(error);

	/* it ended well: provisioned again, its certificate untouched */
	{
		g_autoptr(FstDeviceInfo) info = test_info_new("TRUST-1", "2.0.0");
		g_autoptr(FstDbDeviceLog) log = fst_db_device_log_new(0, info, NULL, &error);
		g_assert_no_error(error);
		fst_db_device_log_add_event(log, "identify", now, now + 1, "ok", NULL);
		fst_db_device_log_add_object(log, NULL, FST_OBJECT_TRUST_ROOTS, roots, "cc,dd");
		g_assert_true(fst_db_device_log_commit(db, log, &error));
		g_assert_no_error(error);
		text = test_sql_text(fx->path, "SELECT state FROM devices WHERE uid = 'TRUST-1'");
		g_assert_cmpstr(text, ==, "in-progress");
		g_clear_pointer(&text, g_free);
		fst_db_device_log_finish(log, NULL, NULL);
		g_assert_true(fst_db_device_log_commit(db, log, &error));
		g_assert_no_error(error);
	}
	text = test_sql_text(fx->path, "SELECT state FROM devices WHERE uid = 'TRUST-1'");
	g_assert_cmpstr(text, ==, "provisioned");
	g_clear_pointer(&text, g_free);
	text = test_sql_text(fx->path,
	                     "SELECT detail FROM event_steps WHERE step = 'provisioned' ORDER BY "
	                     "event_id DESC, step_index DESC LIMIT 1");
	g_assert_cmpstr(text, ==, "no new certificate; certificate 7401 stays in service (slot A)");
	g_clear_pointer(&text, g_free);
	g_assert_cmpint(test_sql_int(fx->path,
	                             "SELECT count(*) FROM device_objects WHERE kind = "
	                             "'trust-roots' AND certificate_id IS NULL"),
	                ==,
	                1);

	/* it failed: failed, as any attempt */
	{
		g_autoptr(FstDeviceInfo) info = test_info_new("TRUST-1", "2.0.0");
		g_autoptr(FstDbDeviceLog) log = fst_db_device_log_new(0, info, NULL, &error);
		g_assert_no_error(error);
		fst_db_device_log_add_object(log, NULL, FST_OBJECT_TRUST_ROOTS, roots, "cc,dd");
		fst_db_device_log_finish(log, NULL, failure);
		g_assert_true(fst_db_device_log_commit(db, log, &error));
		g_assert_no_error(error);
	}
	text = test_sql_text(fx->path, "SELECT state FROM devices WHERE uid = 'TRUST-1'");
	g_assert_cmpstr(text, ==, "failed");
	g_clear_pointer(&text, g_free);

	/* a device with no certificate in service cannot be ended well without one */
	{
		g_autoptr(FstDeviceInfo) info = test_info_new("TRUST-NEW", "2.0.0");
		g_autoptr(FstDbDeviceLog) log = fst_db_device_log_new(0, info, NULL, &error);
		g_assert_no_error(error);
		fst_db_device_log_add_object(log, NULL, FST_OBJECT_TRUST_ROOTS, roots, "cc,dd");
		fst_db_device_log_finish(log, NULL, NULL);
		g_assert_false(fst_db_device_log_commit(db, log, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error->message,
		                        "device TRUST-NEW has no verified or "
		                        "registered certificate"));
		g_clear_error(&error);
	}
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM devices WHERE uid = 'TRUST-NEW'"), ==, 0);

	fst_db_close(g_steal_pointer(&db));
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
}

/* the v3 fixture (two devices provisioned by the two-commit pipeline, one
 * certificate revoked): backed up as v3, then migrated to v4 with its data,
 * its chain and a schema equal to a fresh file's; it keeps working with the
 * v4 records (slot, superseded, deactivation queue, escrow) */
static void
test_migrate_from_v3_fixture(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(GPtrArray) regs = NULL;
	g_autoptr(FstDbCert) active = NULL;
	g_autofree gchar *path = test_load_fixture(fx, "v3.sql");
	g_autofree gchar *backup = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *ders = NULL;

	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, 3);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 2);
	/* 9 events per provisioned device, and the revocation */
	g_assert_cmpint(audit->events, ==, 19);
	ders = test_sql_text(path, "SELECT group_concat(hex(der), ',') FROM certificates");
	db = fst_db_open(path, &error);
	g_assert_no_error(error);
	backup = fst_db_get_last_backup(db);
	g_assert_nonnull(strstr(backup, ".v3-"));
	g_assert_cmpint(test_sql_int(backup, "PRAGMA user_version"), ==, 3);
	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, FST_DB_SCHEMA_VERSION);

	/* the data survived: devices, certificates byte for byte, states, ids */
	devices = fst_db_list_devices(db, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(devices->len, ==, 2);
	g_assert_cmpint(((FstDbDevice *)g_ptr_array_index(devices, 0))->state,
	                ==,
	                FST_DB_DEVICE_STATE_PROVISIONED);
	{
		g_autofree gchar *ders_after =
		    test_sql_text(path, "SELECT group_concat(hex(der), ',') FROM certificates");
		g_assert_cmpstr(ders_after, ==, ders);
	}
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM certificates WHERE state = 'revoked' "
	                             "AND revocation_reason = 'superseded'"),
	                ==,
	                1);
	g_assert_cmpint(
	    test_sql_int(path, "SELECT count(*) FROM certificates WHERE slot = 0"), ==, 2);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM key_escrows"), ==, 0);
	/* the issuer became a `cas` row; the API and the view still name it */
	{
		g_autofree gchar *issuer = test_sql_text(
		    backup, "SELECT issuer_sha256 FROM certificates ORDER BY id LIMIT 1");
		g_autofree gchar *issuer_view = test_sql_text(
		    path, "SELECT issuer_sha256 FROM certificate_details ORDER BY id LIMIT 1");
		g_autofree gchar *profile_view = test_sql_text(
		    path, "SELECT profile FROM certificate_details ORDER BY id LIMIT 1");
		g_autofree gchar *profile =
		    test_sql_text(backup, "SELECT profile FROM certificates ORDER BY id LIMIT 1");
		g_autoptr(GPtrArray) certs = NULL;
		FstDbCertFilter filter = {.issuer_sha256 = issuer};
		g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM cas"), ==, 1);
		g_assert_cmpint(
		    test_sql_int(path, "SELECT count(*) FROM certificates WHERE ca_id IS NULL"),
		    ==,
		    0);
		g_assert_cmpstr(issuer_view, ==, issuer);
		g_assert_cmpstr(profile_view, ==, profile);
		certs = fst_db_list_certificates(db, &filter, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(certs->len, ==, 2);
		g_assert_cmpstr(
		    ((FstDbCert *)g_ptr_array_index(certs, 0))->issuer_sha256, ==, issuer);
		g_assert_cmpstr(((FstDbCert *)g_ptr_array_index(certs, 0))->profile, ==, profile);
		g_assert_cmpint(fst_db_count_certificates_by_issuer(db, issuer, &error), ==, 2);
		g_assert_no_error(error);
	}
	/* the ids survived the rebuilds, and the page size stays the file's; the
	 * migration to v5 appended the `records` events that bind every row */
	g_assert_cmpint(
	    test_sql_int(path, "SELECT max(id) FROM events WHERE step != 'records'"), ==, 19);
	g_assert_cmpint(
	    test_sql_int(path, "SELECT min(id) FROM events WHERE step = 'records'"), ==, 20);
	g_assert_cmpint(
	    test_sql_int(path, "PRAGMA page_size"), ==, test_sql_int(backup, "PRAGMA page_size"));
	g_clear_pointer(&audit, fst_audit_result_free);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->events, ==, test_sql_int(path, "SELECT count(*) FROM events"));

	/* the device that kept its certificate gets a new one in slot B */
	serial =
	    test_sql_text(path, "SELECT serial_hex FROM certificates WHERE state = 'verified'");
	{
		g_autofree gchar *uid = test_sql_text(
		    path,
		    "SELECT d.uid FROM devices d JOIN certificates c ON c.device_id = d.id "
		    "WHERE c.state = 'verified'");
		active = fst_db_get_active_certificate(db, uid, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(active->serial_hex, ==, serial);
		g_assert_true(test_log_provision(db, uid, 0xF4C0001, 1, serial, NULL, &error));
		g_assert_no_error(error);
	}
	regs = fst_db_list_registrations(db, "deactivate", "pending", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(regs->len, ==, 1);
	g_assert_cmpstr(((FstDbRegistration *)g_ptr_array_index(regs, 0))->serial_hex, ==, serial);
	g_clear_pointer(&db, fst_db_close);
	g_clear_pointer(&audit, fst_audit_result_free);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 3);

	test_assert_schema_fresh(fx, path);
}

/* the v4 fixture (tests/data/db/README.md): migrated after a backup, its
 * chain intact and every row bound into it, every v4 record readable and its
 * schema that of a fresh file */
static void
test_migrate_from_v4_fixture(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(GPtrArray) regs = NULL;
	g_autoptr(FstDbCert) active = NULL;
	g_autoptr(GBytes) cms = NULL;
	g_autofree gchar *path = test_load_fixture(fx, "v4.sql");
	g_autofree gchar *recipient = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *last_backup = NULL;

	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, 4);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 4);
	g_assert_cmpint(audit->rows, ==, 0);
	g_clear_pointer(&audit, fst_audit_result_free);
	db = test_open_fixture_shared_key(path, &error);
	g_assert_no_error(error);
	last_backup = fst_db_get_last_backup(db);
	g_assert_nonnull(last_backup);
	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, FST_DB_SCHEMA_VERSION);
	/* every row is bound: 3 devices, 4 certificates, the objects, names... */
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(
	    audit->rows,
	    ==,
	    test_sql_int(path,
	                 "SELECT (SELECT count(*) FROM devices) + (SELECT count(*) FROM "
	                 "certificates) + (SELECT count(*) FROM device_objects) + (SELECT "
	                 "count(*) FROM operators) + (SELECT count(*) FROM lots) + (SELECT "
	                 "count(*) FROM stations) + (SELECT count(*) FROM profiles) + "
	                 "(SELECT count(*) FROM cas) + (SELECT count(*) FROM key_escrows)"));
	g_assert_cmpint(
	    test_sql_int(path, "SELECT count(*) FROM events WHERE step = 'records'"), >, 0);
	devices = fst_db_list_devices(db, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(devices->len, ==, 3);

	/* slot B after a supersede, the old one queued for deactivation */
	active = fst_db_get_active_certificate(db, "FIXTURE-V4-0002", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(active->serial_hex, ==, "F4C0000003");
	g_assert_cmpint(active->slot, ==, 1);
	g_assert_cmpstr(active->issuer_sha256,
	                ==,
	                "4f6a2d1c0b9e8f7a6d5c4b3a29180716f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0");
	regs = fst_db_list_registrations(db, "deactivate", "pending", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(regs->len, ==, 1);
	g_assert_cmpstr(
	    ((FstDbRegistration *)g_ptr_array_index(regs, 0))->serial_hex, ==, "F4C0000002");
	g_assert_cmpstr(((FstDbRegistration *)g_ptr_array_index(regs, 0))->target, ==, "*");
	/* the escrow, the CA's name, the trust-roots-only job */
	cms = fst_db_get_escrow(db, "F4C0000001", &recipient, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(cms), ==, 44);
	g_assert_cmpuint(strlen(recipient), ==, 64);
	text = test_sql_text(path, "SELECT subject FROM cas");
	g_assert_cmpstr(text, ==, "O=Fleetstation Fixtures,CN=Fixture Issuing CA v4");
	g_clear_pointer(&text, g_free);
	text =
	    test_sql_text(path,
	                  "SELECT detail FROM events WHERE step = 'provisioned' ORDER BY id DESC "
	                  "LIMIT 1");
	g_assert_cmpstr(
	    text, ==, "no new certificate; certificate F4C0000001 stays in service (slot A)");
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM certificate_details WHERE state = "
	                             "'revoked' AND revocation_reason = 'cessationOfOperation'"),
	                ==,
	                1);
	g_clear_pointer(&db, fst_db_close);

	test_assert_schema_fresh(fx, path);
}

/* a revoked certificate is queued for revocation (`revoke` rows) wherever it
 * has a `register` row, in the revocation's transaction; a certificate never
 * queued for registration gets none; a register row written for a
 * certificate its target issued carries that target's id */
static void
test_revoke_queued_where_registered(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(GPtrArray) regs = NULL;
	g_autoptr(FstDbCert) issued = test_cert_new(0x7C03, "REV-3");
	g_autoptr(FstDeviceInfo) info = test_info_new("REV-3", "1.0.0");
	g_autofree gchar *text = NULL;
	FstDbRegistration *reg;
	gint64 device_id = 0;

	(void)user_data;
	g_assert_no_error(error);
	g_assert_true(test_log_provision(db, "REV-1", 0x7C01, 0, NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(test_log_provision(db, "REV-2", 0x7C02, 0, NULL, NULL, &error));
	g_assert_no_error(error);
	test_sql_register(fx->path, "7C01", "aws-iot:eu-west-1");
	test_sql_register(fx->path, "7C01", "aws-iot:us-east-1");

	g_assert_true(fst_db_revoke_certificate(db, "7C01", "keyCompromise", &error));
	g_assert_no_error(error);
	g_assert_true(fst_db_revoke_certificate(db, "7C02", "keyCompromise", &error));
	g_assert_no_error(error);
	regs = fst_db_list_registrations(db, "revoke", NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(regs->len, ==, 2);
	reg = g_ptr_array_index(regs, 0);
	g_assert_cmpstr(reg->serial_hex, ==, "7C01");
	g_assert_cmpstr(reg->target, ==, "aws-iot:eu-west-1");
	g_assert_cmpstr(reg->action, ==, "revoke");
	g_assert_cmpstr(reg->state, ==, "pending");
	reg = g_ptr_array_index(regs, 1);
	g_assert_cmpstr(reg->serial_hex, ==, "7C01");
	g_assert_cmpstr(reg->target, ==, "aws-iot:us-east-1");
	g_clear_pointer(&regs, g_ptr_array_unref);

	/* the register row of a certificate AWS issued holds its ARN */
	device_id = fst_db_begin_device(db, 0, info, "/dev/ttyUSB7", &error);
	g_assert_no_error(error);
	issued->register_target = g_strdup("aws-iot:us-east-1");
	issued->register_remote_id = g_strdup("arn:aws:iot:us-east-1:123456789012:cert/7c03");
	g_assert_true(fst_db_add_certificate(db, device_id, issued, &error));
	g_assert_no_error(error);
	text = test_sql_text(fx->path,
	                     "SELECT r.remote_id || ' ' || r.state FROM registrations r JOIN "
	                     "certificates c ON c.id = r.certificate_id WHERE c.serial_hex = "
	                     "'7C03' AND r.action = 'register'");
	g_assert_cmpstr(text, ==, "arn:aws:iot:us-east-1:123456789012:cert/7c03 pending");
}

/* a queue set to a target claims only its rows and `*` rows: a worker of one
 * region leaves another region's rows for a worker of that region */
static void
test_queue_claims_its_target(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(FstDbQueue) queue = NULL;
	g_autoptr(FstDbQueueItem) item = NULL;
	gint64 now = g_get_real_time();

	(void)user_data;
	g_assert_no_error(error);
	g_assert_true(test_log_provision(db, "TGT-1", 0x7D01, 0, NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(test_log_provision(db, "TGT-2", 0x7D02, 0, NULL, NULL, &error));
	g_assert_no_error(error);
	test_sql_exec(fx->path,
	              "INSERT INTO registrations (certificate_id, target, state, created_at, "
	              "updated_at) SELECT id, CASE serial_hex WHEN '7D01' THEN 'aws-iot:eu-west-1' "
	              "ELSE 'aws-iot:us-east-1' END, 'pending', 1, 1 FROM certificates");
	queue = fst_db_queue_open(fx->path, &error);
	g_assert_no_error(error);
	fst_db_queue_set_target(queue, "aws-iot:us-east-1");
	item = fst_db_queue_claim(queue, now, G_USEC_PER_SEC, &error);
	g_assert_no_error(error);
	g_assert_nonnull(item);
	g_assert_cmpstr(item->serial_hex, ==, "7D02");
	g_assert_cmpstr(item->cert_state, ==, "verified");
	g_clear_pointer(&item, fst_db_queue_item_free);
	item = fst_db_queue_claim(queue, now, G_USEC_PER_SEC, &error);
	g_assert_no_error(error);
	g_assert_null(item);
	/* every target */
	fst_db_queue_set_target(queue, NULL);
	item = fst_db_queue_claim(queue, now, G_USEC_PER_SEC, &error);
	g_assert_no_error(error);
	g_assert_nonnull(item);
	g_assert_cmpstr(item->serial_hex, ==, "7D01");
}

static gboolean
test_aws_record_cb(const FstDbAwsRecord *record, gpointer user_data)
{
	GString *text = user_data;
	g_string_append_printf(text,
	                       "%s%s %s %s %s r=%s d=%s v=%s %s",
	                       text->len > 0 ? "; " : "",
	                       record->serial_hex,
	                       record->device_uid,
	                       record->state,
	                       record->issuer_sha256 != NULL ? "ca" : "aws",
	                       record->registered != NULL ? record->registered : "-",
	                       record->deactivated != NULL ? record->deactivated : "-",
	                       record->revoked != NULL ? record->revoked : "-",
	                       strlen(record->aws_cert_id) == 64 ? "id" : "no-id");
	return TRUE;
}

/* what the reconciliation with AWS reads of each certificate: its rows of
 * one target (a `*` deactivation or revocation too), and none of another
 * target's; every certificate, registered or not */
static void
test_foreach_aws_record(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(GString) text = g_string_new(NULL);

	(void)user_data;
	g_assert_no_error(error);
	for (guint i = 0; i < 4; i++) {
		g_autofree gchar *uid = g_strdup_printf("REC-%u", i + 1);
		g_assert_true(test_log_provision(db, uid, 0x7E01 + i, 0, NULL, NULL, &error));
		g_assert_no_error(error);
	}
	test_sql_register(fx->path, "7E01", "aws-iot:us-east-1");
	test_sql_register(fx->path, "7E02", "aws-iot:us-east-1");
	test_sql_register(fx->path, "7E03", "aws-iot:eu-west-1");
	g_assert_true(fst_db_revoke_certificate(db, "7E02", "keyCompromise", &error));
	g_assert_no_error(error);
	test_sql_exec(fx->path,
	              "INSERT INTO registrations (certificate_id, target, action, state, "
	              "created_at, updated_at) SELECT id, '*', 'deactivate', 'failed', 1, 1 FROM "
	              "certificates WHERE serial_hex = '7E01'");
	test_sql_exec(fx->path, "UPDATE certificates SET ca_id = NULL WHERE serial_hex = '7E04'");

	g_assert_true(
	    fst_db_foreach_aws_record(db, "aws-iot:us-east-1", test_aws_record_cb, text, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(text->str,
	                ==,
	                "7E01 REC-1 verified ca r=done d=failed v=- id; "
	                "7E02 REC-2 revoked ca r=done d=- v=pending id; "
	                "7E03 REC-3 verified ca r=- d=- v=- id; "
	                "7E04 REC-4 verified aws r=- d=- v=- id");
}

/* loads fixture @name of schema @version (which verifies, with @rows bound
 * rows) and opens it: migrated after a backup to the current schema, with
 * the same chain head and every binding still verifying; returns the
 * migrated file's path, @db open on it, and *@head_id its chain head */
static gchar *
test_migrate_fixture_keeps_chain(
    TestFixture *fx, const gchar *name, gint64 version, gint64 rows, FstDb **db, gint64 *head_id)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autofree gchar *path = test_load_fixture(fx, name);
	g_autofree gchar *head = NULL;
	g_autofree gchar *backup = NULL;

	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, version);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 5);
	g_assert_cmpint(audit->rows, ==, rows);
	head = g_strdup(audit->head_hash);
	*head_id = audit->head_id;
	g_clear_pointer(&audit, fst_audit_result_free);
	*db = test_open_fixture_shared_key(path, &error);
	g_assert_no_error(error);
	backup = fst_db_get_last_backup(*db);
	g_assert_nonnull(backup);
	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, FST_DB_SCHEMA_VERSION);
	/* the old events are as they were: the same head, verifying */
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->head_id, ==, *head_id);
	g_assert_cmpstr(audit->head_hash, ==, head);
	g_assert_cmpint(audit->rows, ==, rows);
	return g_steal_pointer(&path);
}

/* the v5 fixture (tests/data/db/README.md): migrated after a backup, its
 * chain and every bound row intact and still verifying, the chain going on
 * from its old events with the steps of a device log in one event, the
 * registration queue rebuilt for revoke rows (its row kept), the states of
 * interrupted attempts readable, and its schema that of a fresh file */
static void
test_migrate_from_v5_fixture(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autoptr(FstDbDevice) rework = NULL;
	g_autoptr(FstDbCert) active = NULL;
	g_autoptr(GPtrArray) superseded = NULL;
	gint64 head_id = 0;
	g_autofree gchar *path =
	    test_migrate_fixture_keeps_chain(fx, "v5.sql", 5, 25, &db, &head_id);
	FstDbCertFilter by_superseded = {.state = "superseded"};

	/* the view lists the old events' steps too */
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM event_steps"), ==, head_id);
	/* the registration queue kept its row, and takes revoke rows */
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM registrations WHERE id = 1 AND "
	                             "certificate_id = 2 AND target = '*' AND action = "
	                             "'deactivate' AND state = 'pending'"),
	                ==,
	                1);

	/* left in rework, its certificate interrupted */
	rework = fst_db_find_device(db, "FIXTURE-V5-0003", &error);
	g_assert_no_error(error);
	g_assert_cmpint(rework->state, ==, FST_DB_DEVICE_STATE_REWORK);
	g_assert_cmpint(rework->cert->state, ==, FST_CERT_STATE_INTERRUPTED);
	/* provisioned again: the interrupted one superseded by the new one */
	active = fst_db_get_active_certificate(db, "FIXTURE-V5-0002", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(active->serial_hex, ==, "F5C0000004");
	superseded = fst_db_list_certificates(db, &by_superseded, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(superseded->len, ==, 1);
	g_assert_cmpstr(
	    ((FstDbCert *)g_ptr_array_index(superseded, 0))->serial_hex, ==, "F5C0000002");
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM certificate_details WHERE state = "
	                             "'revoked' AND revocation_reason = 'keyCompromise'"),
	                ==,
	                1);

	/* the chain goes on from the old events: a device logged now is one
	 * event per commit, and the whole chain verifies */
	g_assert_true(
	    test_log_provision(db, "FIXTURE-V6-0001", 0xF6C0000001, 0, NULL, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(test_sql_int(path, "SELECT max(id) FROM events"), ==, head_id + 2);
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM events WHERE step = 'device-log' "
	                             "AND id > (SELECT max(id) - 2 FROM events)"),
	                ==,
	                2);
	g_clear_pointer(&db, fst_db_close);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 6);

	test_assert_schema_fresh(fx, path);
}

/* the v6 fixture (tests/data/db/README.md): migrated after a backup, its
 * chain and every bound row intact (the device tables are rebuilt with the
 * same rows and ids), each device's steps as they were, the CHECK
 * constraints refusing what they refused, and its schema that of a fresh
 * file */
static void
test_migrate_from_v6_fixture(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autoptr(FstDbDevice) rework = NULL;
	g_autoptr(FstDbCert) active = NULL;
	g_autoptr(sqlite3) raw = NULL;
	gint64 head_id = 0;
	g_autofree gchar *path =
	    test_migrate_fixture_keeps_chain(fx, "v6.sql", 6, 25, &db, &head_id);
	const gchar *refused[] = {
	    "UPDATE devices SET state = 'lost' WHERE id = 1",
	    "UPDATE certificates SET state = 'lost' WHERE id = 1",
	    "UPDATE certificates SET slot = 2 WHERE id = 1",
	    "UPDATE device_objects SET kind = 'firmware' WHERE id = 1",
	    "UPDATE registrations SET action = 'delete' WHERE id = 1",
	    "UPDATE registrations SET state = 'lost' WHERE id = 1",
	};

	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM event_steps"), ==, 44);
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM registrations WHERE certificate_id = 2 "
	                             "AND target = '*' AND action = 'deactivate' AND state = "
	                             "'pending'"),
	                ==,
	                1);
	active = fst_db_get_active_certificate(db, "FIXTURE-V6-0002", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(active->serial_hex, ==, "F6C0000003");
	g_assert_cmpint(active->slot, ==, 1);
	rework = fst_db_find_device(db, "FIXTURE-V6-0004", &error);
	g_assert_no_error(error);
	g_assert_cmpint(rework->state, ==, FST_DB_DEVICE_STATE_REWORK);
	g_assert_cmpint(rework->cert->state, ==, FST_CERT_STATE_INTERRUPTED);
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM certificate_details WHERE device_uid = "
	                             "'FIXTURE-V6-0003' AND state = 'revoked'"),
	                ==,
	                1);

	/* the rebuilt tables refuse the values they refused before */
	g_assert_cmpint(sqlite3_open(path, &raw), ==, SQLITE_OK);
	for (guint i = 0; i < G_N_ELEMENTS(refused); i++)
		g_assert_cmpint(
		    sqlite3_exec(raw, refused[i], NULL, NULL, NULL), ==, SQLITE_CONSTRAINT);
	g_clear_pointer(&raw, sqlite3_close);

	/* the chain goes on: a device logged now verifies with the rest */
	g_assert_true(
	    test_log_provision(db, "FIXTURE-V7-0001", 0xF7C0000001, 0, NULL, NULL, &error));
	g_assert_no_error(error);
	g_clear_pointer(&db, fst_db_close);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 6);

	test_assert_schema_fresh(fx, path);
}

/* the v7 fixture (tests/data/db/README.md): migrated after a backup, its
 * chain and every bound row intact; its certificates' keys filed, the key
 * its four devices share (one test key) under the first, and that key then
 * refused for a new device */
static void
test_migrate_from_v7_fixture(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autoptr(FstDbCert) active = NULL;
	gint64 head_id = 0;
	g_autofree gchar *path =
	    test_migrate_fixture_keeps_chain(fx, "v7.sql", 7, 20, &db, &head_id);

	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM event_steps"), ==, 48);
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM device_keys k JOIN devices d ON d.id = "
	                             "k.device_id WHERE d.uid = 'FIXTURE-V7-0001'"),
	                ==,
	                1);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM device_keys"), ==, 1);
	active = fst_db_get_active_certificate(db, "FIXTURE-V7-0002", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(active->serial_hex, ==, "F7C0000003");

	/* the chain goes on: a device logged now verifies with the rest */
	g_assert_true(
	    test_log_provision(db, "FIXTURE-V8-0001", 0xF8C0000001, 0, NULL, NULL, &error));
	g_assert_no_error(error);
	g_clear_pointer(&db, fst_db_close);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 6);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM device_keys"), ==, 2);

	test_assert_schema_fresh(fx, path);
}

/* the public key of the certificate recorded for @uid (the newest) */
static EVP_PKEY *
test_device_public_key(FstDb *db, const gchar *uid)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDbDevice) dev = fst_db_find_device(db, uid, &error);
	g_autoptr(X509) x509 = NULL;
	const guchar *p;
	gsize len = 0;

	g_assert_no_error(error);
	g_assert_nonnull(dev->cert);
	p = g_bytes_get_data(dev->cert->der, &len);
	x509 = d2i_X509(NULL, &p, (long)len);
	g_assert_nonnull(x509);
	return X509_get_pubkey(x509);
}

/* the v8 fixture (tests/data/db/README.md): migrated after a backup, its
 * chain intact and its keys (all uncompressed points) filed as they were;
 * FIXTURE-V8-0002, whose board gave the key of FIXTURE-V8-0001, failed
 * with nothing of its certificate recorded; that key is refused again for
 * another device */
static void
test_migrate_from_v8_fixture(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autoptr(FstDbDevice) refused = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new("FIXTURE-V8-0003", "1.0.0");
	g_autoptr(EVP_PKEY) shared = NULL;
	g_autoptr(FstDbCert) cert = NULL;
	g_autofree gchar *path = test_load_fixture(fx, "v8.sql");
	g_autofree gchar *keys = NULL;
	g_autofree gchar *head = NULL;
	g_autofree gchar *backup = NULL;
	gint64 device_id;

	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, 8);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 4);
	head = g_strdup(audit->head_hash);
	keys = test_sql_text(path,
	                     "SELECT group_concat(hex(key_sha256) || device_id) FROM device_keys");
	g_clear_pointer(&audit, fst_audit_result_free);
	db = fst_db_open(path, &error);
	g_assert_no_error(error);
	backup = fst_db_get_last_backup(db);
	g_assert_nonnull(backup);
	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, FST_DB_SCHEMA_VERSION);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpstr(audit->head_hash, ==, head);
	{
		g_autofree gchar *after = test_sql_text(
		    path, "SELECT group_concat(hex(key_sha256) || device_id) FROM device_keys");
		g_assert_cmpstr(after, ==, keys);
	}

	refused = fst_db_find_device(db, "FIXTURE-V8-0002", &error);
	g_assert_no_error(error);
	g_assert_cmpint(refused->state, ==, FST_DB_DEVICE_STATE_FAILED);
	g_assert_null(refused->cert);
	g_assert_nonnull(
	    strstr(refused->last_error, "is already certified for device FIXTURE-V8-0001"));

	/* the key again, for a new device: refused, nothing of it written */
	shared = test_device_public_key(db, "FIXTURE-V8-0001");
	device_id = fst_db_begin_device(db, 0, info, NULL, &error);
	g_assert_no_error(error);
	cert = test_cert_for_key(0xF8C0000010, "FIXTURE-V8-0003", shared);
	g_assert_false(fst_db_add_certificate(db, device_id, cert, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_KEY_REUSED);
	g_assert_nonnull(strstr(error->message, "already certified for device FIXTURE-V8-0001"));
	g_clear_error(&error);
	g_assert_cmpint(
	    test_sql_int(path, "SELECT count(*) FROM certificates WHERE serial_hex = 'F8C0000010'"),
	    ==,
	    0);
	g_clear_pointer(&db, fst_db_close);
	g_clear_pointer(&audit, fst_audit_result_free);
	audit = test_audit(path);
	g_assert_true(audit->ok);

	test_assert_schema_fresh(fx, path);
}

/* @key with its EC point written compressed */
static EVP_PKEY *
test_key_compressed(EVP_PKEY *key)
{
	EVP_PKEY *packed = EVP_PKEY_dup(key);

	g_assert_nonnull(packed);
	g_assert_cmpint(
	    EVP_PKEY_set_utf8_string_param(packed,
	                                   OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	                                   OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED),
	    ==,
	    1);
	return packed;
}

/* the first byte of the EC point of @db's newest certificate of @uid, as
 * its DER has it */
static guint8
test_device_point_form(FstDb *db, const gchar *uid)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDbDevice) dev = fst_db_find_device(db, uid, &error);
	g_autoptr(X509) x509 = NULL;
	const guchar *p;
	const guchar *point = NULL;
	int point_len = 0;
	gsize len = 0;

	g_assert_no_error(error);
	g_assert_nonnull(dev->cert);
	p = g_bytes_get_data(dev->cert->der, &len);
	x509 = d2i_X509(NULL, &p, (long)len);
	g_assert_nonnull(x509);
	g_assert_cmpint(
	    X509_PUBKEY_get0_param(NULL, &point, &point_len, NULL, X509_get_X509_PUBKEY(x509)),
	    ==,
	    1);
	g_assert_cmpint(point_len, >, 0);
	return point[0];
}

/* the v9 fixture (tests/data/db/README.md) is the current schema: opened as
 * is, with no backup, its chain intact; FIXTURE-V9-0001's board sent its
 * key compressed, and FIXTURE-V9-0002's board the same key uncompressed,
 * refused with the steps before the refusal recorded; the key is refused
 * again in either form for another device */
static void
test_migrate_v9_fixture_current(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autoptr(FstDbDevice) refused = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new("FIXTURE-V9-0003", "1.0.0");
	g_autoptr(EVP_PKEY) shared = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GString) steps = g_string_new(NULL);
	g_autofree gchar *path = test_load_fixture(fx, "v9.sql");
	gint64 device_id;

	G_STATIC_ASSERT(FST_DB_SCHEMA_VERSION == 9);
	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, FST_DB_SCHEMA_VERSION);
	audit = test_audit(path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 4);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM device_keys"), ==, 4);
	db = fst_db_open(path, &error);
	g_assert_no_error(error);
	g_assert_null(fst_db_get_last_backup(db));

	g_assert_cmpint(test_device_point_form(db, "FIXTURE-V9-0001"), !=, 0x04);
	refused = fst_db_find_device(db, "FIXTURE-V9-0002", &error);
	g_assert_no_error(error);
	g_assert_cmpint(refused->state, ==, FST_DB_DEVICE_STATE_FAILED);
	g_assert_null(refused->cert);
	g_assert_nonnull(
	    strstr(refused->last_error, "is already certified for device FIXTURE-V9-0001"));
	events = fst_db_list_events(db, refused->id, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *ev = g_ptr_array_index(events, i);
		g_string_append_printf(steps, "%s%s %s", i > 0 ? "," : "", ev->step, ev->outcome);
	}
	g_assert_cmpstr(steps->str,
	                ==,
	                "identify ok,plan ok,keygen ok,issue ok,issue key-reused,failed failed");

	/* the key again, in either form, for a new device: refused */
	shared = test_device_public_key(db, "FIXTURE-V9-0001");
	device_id = fst_db_begin_device(db, 0, info, NULL, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < 2; i++) {
		g_autoptr(EVP_PKEY) form =
		    i == 0 ? EVP_PKEY_dup(shared) : test_key_compressed(shared);
		g_autoptr(FstDbCert) cert = NULL;
		if (i == 0)
			g_assert_cmpint(EVP_PKEY_set_utf8_string_param(
			                    form,
			                    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
			                    OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED),
			                ==,
			                1);
		cert = test_cert_for_key(0xF9C0000010 + i, "FIXTURE-V9-0003", form);
		g_assert_false(fst_db_add_certificate(db, device_id, cert, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_KEY_REUSED);
		g_assert_nonnull(
		    strstr(error->message, "already certified for device FIXTURE-V9-0001"));
		g_clear_error(&error);
	}
	g_clear_pointer(&db, fst_db_close);
	g_clear_pointer(&audit, fst_audit_result_free);
	audit = test_audit(path);
	g_assert_true(audit->ok);

	test_assert_schema_fresh(fx, path);
}

/* a v8 file whose keys were filed under the hash of the SPKI as sent: the
 * migration files a compressed key again under the hash of its
 * uncompressed form, so that the key sent uncompressed by another board is
 * refused; a key two devices already hold in the two forms stays with the
 * one holding it uncompressed, with one warning */
static void
test_migrate_compressed_key_filed_again(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(FstDeviceInfo) info_a = test_info_new("PACKED-A", "1.0.0");
	g_autoptr(FstDeviceInfo) info_b = test_info_new("PACKED-B", "1.0.0");
	g_autoptr(FstDeviceInfo) info_c = test_info_new("PACKED-C", "1.0.0");
	g_autoptr(FstDeviceInfo) info_d = test_info_new("PACKED-D", "1.0.0");
	g_autoptr(EVP_PKEY) key = EVP_EC_gen("P-256");
	g_autoptr(EVP_PKEY) packed = test_key_compressed(key);
	g_autoptr(EVP_PKEY) key2 = EVP_EC_gen("P-256");
	g_autoptr(EVP_PKEY) packed2 = test_key_compressed(key2);
	g_autoptr(FstDbCert) a = test_cert_for_key(0xC1, "PACKED-A", packed);
	g_autoptr(FstDbCert) c = test_cert_for_key(0xC3, "PACKED-C", key2);
	g_autoptr(FstDbCert) d = test_cert_for_key(0xC4, "PACKED-D", packed2);
	g_autoptr(FstDbCert) b = test_cert_for_key(0xC2, "PACKED-B", key);
	g_autofree gchar *sql = NULL;
	gint64 dev_a, dev_b, dev_c, dev_d;
	guint8 raw[32];
	guint8 raw2[32];
	sqlite3 *raw_db = NULL;

	g_assert_no_error(error);
	dev_a = fst_db_begin_device(db, 0, info_a, NULL, &error);
	dev_b = fst_db_begin_device(db, 0, info_b, NULL, &error);
	dev_c = fst_db_begin_device(db, 0, info_c, NULL, &error);
	dev_d = fst_db_begin_device(db, 0, info_d, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(fst_db_add_certificate(db, dev_a, a, &error));
	g_assert_true(fst_db_add_certificate(db, dev_c, c, &error));
	g_assert_no_error(error);
	/* refused now, in the other form */
	g_assert_false(fst_db_add_certificate(db, dev_d, d, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_KEY_REUSED);
	g_clear_error(&error);
	g_clear_pointer(&db, fst_db_close);

	/* the file as v8 left it: PACKED-A's key filed under the hash of its
	 * compressed SPKI; PACKED-D's certificate (key2 compressed) recorded
	 * beside PACKED-C's (key2 uncompressed), both filed */
	{
		guchar *der = NULL;
		gint len = i2d_PUBKEY(packed, &der);
		g_assert_cmpint(len, >, 0);
		fst_crypto_sha256(der, (gsize)len, raw);
		OPENSSL_free(der);
		der = NULL;
		len = i2d_PUBKEY(packed2, &der);
		g_assert_cmpint(len, >, 0);
		fst_crypto_sha256(der, (gsize)len, raw2);
		OPENSSL_free(der);
	}
	g_assert_cmpint(sqlite3_open(fx->path, &raw_db), ==, SQLITE_OK);
	sql = g_strdup_printf(
	    "UPDATE device_keys SET key_sha256 = ?1 WHERE device_id = %" G_GINT64_FORMAT, dev_a);
	{
		sqlite3_stmt *stmt = NULL;
		g_assert_cmpint(sqlite3_prepare_v2(raw_db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
		g_assert_cmpint(sqlite3_bind_blob(stmt, 1, raw, 32, SQLITE_STATIC), ==, SQLITE_OK);
		g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_DONE);
		g_assert_cmpint(sqlite3_changes(raw_db), ==, 1);
		sqlite3_finalize(stmt);
		g_clear_pointer(&sql, g_free);
		sql = g_strdup_printf(
		    "INSERT INTO device_keys (key_sha256, device_id) VALUES (?1, %" G_GINT64_FORMAT
		    ")",
		    dev_d);
		g_assert_cmpint(sqlite3_prepare_v2(raw_db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
		g_assert_cmpint(sqlite3_bind_blob(stmt, 1, raw2, 32, SQLITE_STATIC), ==, SQLITE_OK);
		g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_DONE);
		sqlite3_finalize(stmt);
	}
	g_clear_pointer(&sql, g_free);
	sql = g_strdup_printf(
	    "INSERT INTO certificates (id, device_id, serial_hex, aws_cert_id, der, "
	    "state, created_at, updated_at) SELECT 99, %" G_GINT64_FORMAT
	    ", 'C4', 'x', ?1, 'issued', 1, 1",
	    dev_d);
	{
		sqlite3_stmt *stmt = NULL;
		g_assert_cmpint(sqlite3_prepare_v2(raw_db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
		g_assert_cmpint(sqlite3_bind_blob(stmt,
		                                  1,
		                                  g_bytes_get_data(d->der, NULL),
		                                  (int)g_bytes_get_size(d->der),
		                                  SQLITE_STATIC),
		                ==,
		                SQLITE_OK);
		g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_DONE);
		sqlite3_finalize(stmt);
	}
	g_assert_cmpint(sqlite3_exec(raw_db,
	                             "DELETE FROM schema_migrations WHERE version = 9; "
	                             "PRAGMA user_version = 8",
	                             NULL,
	                             NULL,
	                             NULL),
	                ==,
	                SQLITE_OK);
	g_clear_pointer(&raw_db, sqlite3_close);

	/* migrated: one warning, for PACKED-D */
	db = test_open_fixture_shared_key(fx->path, &error);
	g_assert_nonnull(strstr(test_last_warning,
	                        "1 recorded certificates with a compressed EC point have a public "
	                        "key already certified for another device (the first: "
	                        "certificate C4 of device PACKED-D)"));
	g_assert_no_error(error);
	g_assert_cmpint(test_sql_int(fx->path, "PRAGMA user_version"), ==, FST_DB_SCHEMA_VERSION);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM device_keys"), ==, 2);
	g_clear_pointer(&sql, g_free);
	sql = g_strdup_printf(
	    "SELECT count(*) FROM device_keys WHERE device_id = %" G_GINT64_FORMAT, dev_d);
	g_assert_cmpint(test_sql_int(fx->path, sql), ==, 0);

	/* PACKED-A's key, sent uncompressed by another board: refused */
	g_assert_false(fst_db_add_certificate(db, dev_b, b, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_KEY_REUSED);
	g_assert_nonnull(strstr(error->message, "already certified for device PACKED-A"));
	g_clear_error(&error);
}

/* one public key, one device: a second device's certificate for a key
 * another device holds is refused (with its transaction: nothing written),
 * the device's own next certificate for the key it keeps is not, and each
 * device's own keys are filed once */
static void
test_cert_key_one_device(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(FstDeviceInfo) info_a = test_info_new("KEY-A", "1.0.0");
	g_autoptr(FstDeviceInfo) info_b = test_info_new("KEY-B", "1.0.0");
	g_autoptr(EVP_PKEY) key = EVP_EC_gen("P-256");
	g_autoptr(EVP_PKEY) packed = test_key_compressed(key);
	g_autoptr(FstDbCert) first = test_cert_for_key(0xA1, "KEY-A", key);
	g_autoptr(FstDbCert) again = test_cert_for_key(0xA2, "KEY-A", key);
	g_autoptr(FstDbCert) other = test_cert_for_key(0xB1, "KEY-B", key);
	g_autoptr(FstDbCert) other_packed = test_cert_for_key(0xB1, "KEY-B", packed);
	g_autoptr(FstDbCert) own = test_cert_new(0xB2, "KEY-B");
	gint64 dev_a;
	gint64 dev_b;

	g_assert_no_error(error);
	dev_a = fst_db_begin_device(db, 0, info_a, NULL, &error);
	g_assert_no_error(error);
	dev_b = fst_db_begin_device(db, 0, info_b, NULL, &error);
	g_assert_no_error(error);

	g_assert_true(fst_db_add_certificate(db, dev_a, first, &error));
	g_assert_no_error(error);
	g_assert_true(fst_db_add_certificate(db, dev_a, again, &error));
	g_assert_no_error(error);
	g_assert_false(fst_db_add_certificate(db, dev_b, other, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_KEY_REUSED);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "certificate B1 "));
	g_assert_nonnull(strstr(error->message, "already certified for device KEY-A"));
	g_clear_error(&error);
	/* the same key with its point compressed: the same key */
	g_assert_false(fst_db_add_certificate(db, dev_b, other_packed, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_KEY_REUSED);
	g_assert_nonnull(strstr(error->message, "already certified for device KEY-A"));
	g_clear_error(&error);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM certificates WHERE device_id = 2"), ==, 0);
	/* the device with a key of its own goes on */
	g_assert_true(fst_db_add_certificate(db, dev_b, own, &error));
	g_assert_no_error(error);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM device_keys"), ==, 2);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM device_keys WHERE device_id = 1"), ==, 1);

	/* who holds a key, in either form of its point; nobody holds a new one */
	{
		g_autoptr(EVP_PKEY) stranger = EVP_EC_gen("P-256");
		EVP_PKEY *keys[] = {key, packed, stranger};
		const gchar *holders[] = {"KEY-A", "KEY-A", NULL};
		for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
			guint8 *spki = NULL;
			gint len = i2d_PUBKEY(keys[i], &spki);
			g_autofree gchar *holder = NULL;
			g_assert_cmpint(len, >, 0);
			holder = fst_db_get_key_holder(db, spki, (gsize)len, &error);
			OPENSSL_free(spki);
			g_assert_no_error(error);
			g_assert_cmpstr(holder, ==, holders[i]);
		}
	}
}

/* the steps of a device log commit in the text its event holds: every
 * byte of a detail comes back, in one canonical form, and any other text is
 * refused */
static void
test_audit_steps_payload(void)
{
	g_autoptr(GPtrArray) steps =
	    g_ptr_array_new_with_free_func((GDestroyNotify)fst_audit_step_free);
	g_autoptr(GPtrArray) back = NULL;
	g_autofree gchar *payload = NULL;
	const gchar *details[] = {"quote \" backslash \\ newline\n tab\t cr\r bell\a",
	                          NULL,
	                          "caf\xc3\xa9 \xe2\x9c\x93 ], [\"x\",1]",
	                          ""};
	const gchar *refused[] = {
	    "",
	    "[",
	    "[] ",
	    " []",
	    "[[\"a\",0,1,\"ok\",null]",
	    "[[\"a\",0,1,\"ok\",null]]x",
	    "[[\"a\", 0,1,\"ok\",null]]",
	    "[[\"a\",0,1,\"ok\"]]",
	    "[[\"a\",-1,1,\"ok\",null]]",
	    "[[\"a\",0,-1,\"ok\",null]]",
	    "[[null,0,1,\"ok\",null]]",
	    "[[\"a\",0,1,null,null]]",
	    "[[\"a\",0,1,\"ok\",\"x\\u0000y\"]]",
	    "[[\"a\",0,1,\"ok\",\"x\\qy\"]]",
	    "[[\"a\",0,1,\"ok\",\"x\ny\"]]",
	    "[[\"a\",0,1,\"ok\",\"\xff\"]]",
	    "[[\"a\",0,1,\"ok\",\"open]]",
	    "[[\"a\",1e3,1,\"ok\",null]]",
	};

	for (guint i = 0; i < G_N_ELEMENTS(details); i++) {
		FstAuditStep *st = g_new0(FstAuditStep, 1);
		st->step = g_strdup_printf("step-%u", i);
		st->started_at = 1700000000000000 + i * 1000;
		st->ended_at = st->started_at + i * 7;
		st->outcome = g_strdup(i == 1 ? "timed-out" : "ok");
		st->detail = g_strdup(details[i]);
		g_ptr_array_add(steps, st);
	}
	payload = fst_audit_steps_to_payload(steps, 1700000000000000);
	g_test_message("payload: %s", payload);
	g_assert_true(g_str_has_prefix(
	    payload,
	    "[[\"step-0\",0,0,\"ok\",\"quote \\\" backslash \\\\ newline\\n tab\\t cr\\r "
	    "bell\\u0007\"],[\"step-1\",1000,7,\"timed-out\",null],"));
	back = fst_audit_steps_from_payload(payload, strlen(payload), 1700000000000000);
	g_assert_nonnull(back);
	g_assert_cmpuint(back->len, ==, steps->len);
	for (guint i = 0; i < steps->len; i++) {
		FstAuditStep *a = g_ptr_array_index(steps, i);
		FstAuditStep *b = g_ptr_array_index(back, i);
		g_assert_cmpstr(a->step, ==, b->step);
		g_assert_cmpint(a->started_at, ==, b->started_at);
		g_assert_cmpint(a->ended_at, ==, b->ended_at);
		g_assert_cmpstr(a->outcome, ==, b->outcome);
		g_assert_cmpstr(a->detail, ==, b->detail);
	}
	g_clear_pointer(&back, g_ptr_array_unref);
	/* no steps at all is a list too */
	back = fst_audit_steps_from_payload("[]", 2, 0);
	g_assert_nonnull(back);
	g_assert_cmpuint(back->len, ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(refused); i++) {
		g_test_message("refused: %s", refused[i]);
		g_assert_null(fst_audit_steps_from_payload(refused[i], strlen(refused[i]), 0));
	}
	/* the exact length: a payload cut short is refused */
	g_assert_null(fst_audit_steps_from_payload(payload, strlen(payload) - 1, 0));
}

/* a device log commit is one event holding its steps: two per provisioned
 * device, each binding its rows; the device's history lists every step as
 * it was logged, and so does the view for the sqlite3 tool */
static void
test_device_log_one_event_per_commit(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(FstDeviceInfo) info = test_info_new("FOLD-1", "1.0.0");
	g_autoptr(FstDbCert) cert = test_cert_new(0xF01D, "FOLD-1");
	g_autoptr(FstDbDeviceLog) log = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autofree gchar *text = NULL;
	const gchar *expected[] = {"identify",
	                           "certificate-issued",
	                           "issue",
	                           "burn",
	                           "verify",
	                           "certificate-state",
	                           "provisioned"};
	gint64 now = g_get_real_time();
	gint64 device_id;

	g_assert_no_error(error);
	log = fst_db_device_log_new(0, info, "/dev/ttyUSB7", &error);
	g_assert_no_error(error);
	fst_db_device_log_add_event(
	    log, "identify", now, now + 250, "ok", "model \"x1\",\nfirmware 1.0.0");
	fst_db_device_log_add_certificate(log, cert);
	fst_db_device_log_add_event(log, "issue", now + 300, now + 900, "ok", NULL);
	fst_db_device_log_add_object(
	    log, cert->serial_hex, FST_OBJECT_DEVICE_CERT, cert->der, NULL);
	g_assert_true(fst_db_device_log_commit(db, log, &error));
	g_assert_no_error(error);
	fst_db_device_log_add_event(log, "burn", now + 1000, now + 5000, "ok", NULL);
	fst_db_device_log_add_event(log, "verify", now + 5000, now + 6000, "ok", "identical");
	fst_db_device_log_finish(log, cert->serial_hex, NULL);
	g_assert_true(fst_db_device_log_commit(db, log, &error));
	g_assert_no_error(error);
	device_id = fst_db_device_log_get_device_id(log);

	/* two events, both of the device, each with the bindings of its commit */
	g_assert_cmpint(
	    test_sql_int(fx->path,
	                 "SELECT count(*) FROM events WHERE step = 'device-log' AND rows IS "
	                 "NOT NULL AND device_id IS NOT NULL"),
	    ==,
	    2);
	g_assert_cmpint(test_sql_int(fx->path,
	                             "SELECT count(*) FROM events WHERE step != "
	                             "'records' AND step != 'device-log'"),
	                ==,
	                0);
	/* the first spans its steps; the second failed nothing */
	g_assert_cmpint(test_sql_int(fx->path,
	                             "SELECT ended_at - started_at FROM events WHERE step = "
	                             "'device-log' ORDER BY id LIMIT 1"),
	                >=,
	                900);
	text = test_sql_text(fx->path,
	                     "SELECT group_concat(outcome, ',') FROM events WHERE step = "
	                     "'device-log'");
	g_assert_cmpstr(text, ==, "ok,ok");
	g_clear_pointer(&text, g_free);

	/* the history: every step, in order, with its own times and detail */
	events = fst_db_list_events(db, device_id, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, ==, G_N_ELEMENTS(expected));
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *ev = g_ptr_array_index(events, i);
		g_assert_cmpstr(ev->step, ==, expected[i]);
		g_assert_cmpstr(ev->outcome, ==, "ok");
		g_assert_cmpint(ev->device_id, ==, device_id);
		g_assert_nonnull(ev->hash);
	}
	g_assert_cmpint(((FstDbEvent *)g_ptr_array_index(events, 0))->started_us, ==, now);
	g_assert_cmpint(((FstDbEvent *)g_ptr_array_index(events, 0))->ended_us, ==, now + 250);
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, 0))->detail,
	                ==,
	                "model \"x1\",\nfirmware 1.0.0");
	g_assert_cmpint(((FstDbEvent *)g_ptr_array_index(events, 3))->started_us, ==, now + 1000);
	g_assert_cmpint(((FstDbEvent *)g_ptr_array_index(events, 3))->ended_us, ==, now + 5000);
	g_assert_null(((FstDbEvent *)g_ptr_array_index(events, 2))->detail);
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, 5))->detail,
	                ==,
	                "certificate F01D: issued -> verified");
	text = test_sql_text(fx->path,
	                     "SELECT detail || ' ' || (ended_at - started_at) FROM event_steps "
	                     "WHERE step = 'identify'");
	g_assert_cmpstr(text, ==, "model \"x1\",\nfirmware 1.0.0 250");
	g_clear_pointer(&text, g_free);
	text = test_sql_text(fx->path, TEST_SQL_STEPS);
	g_assert_cmpstr(
	    text,
	    ==,
	    "identify,certificate-issued,issue,burn,verify,certificate-state,provisioned");

	/* the database's own step name is not for callers */
	g_assert_false(fst_db_add_event(db, device_id, "device-log", now, now, "ok", "[]", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	g_clear_pointer(&db, fst_db_close);
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 1);
}

/*
 * The audit reads the steps an event holds: a step edited inside it shows
 * as a changed event; rewritten with the chain rebuilt, the certificate
 * moves it names are still checked against the rows; a list that cannot be
 * read is reported.
 */
static void
test_audit_folded_steps(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GBytes) pristine = NULL;
	g_autofree gchar *copy = g_build_filename(fx->tmpdir, "copy.db", NULL);
	const struct {
		const gchar *sql;
		gboolean rechain;
		const gchar *problem;
	} cases[] = {
	    /* the DER hash the certificate-issued step recorded */
	    {"UPDATE events SET detail = replace(detail, 'certificate A1 sha256 ', "
	     "'certificate A1 sha256 0') WHERE step = 'device-log'",
	     FALSE,
	     "was changed: its content no longer matches its hash"},
	    /* a state move rewritten, every hash recomputed */
	    {"UPDATE events SET detail = replace(detail, 'certificate A0: issued -> verified', "
	     "'certificate A0: issued -> burned') WHERE step = 'device-log'",
	     TRUE,
	     "certificate A0 is verified but the audit chain moved it to burned"},
	    /* the certificate-issued step of A1 dropped, every hash recomputed */
	    {"UPDATE events SET detail = replace(detail, '\"certificate-issued\"', "
	     "'\"certificate-noted\"') WHERE id = (SELECT event_id FROM event_steps WHERE "
	     "detail LIKE 'certificate A1 sha256 %')",
	     TRUE,
	     "certificate A1 is not in the audit chain"},
	    {"UPDATE events SET detail = substr(detail, 2) WHERE id = (SELECT min(id) FROM "
	     "events WHERE step = 'device-log')",
	     TRUE,
	     "holds a malformed list of steps"},
	};

	test_tamper_populate(fx->path);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM events WHERE step = 'device-log'"), ==, 8);
	pristine = test_read_file(fx->path);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(FstAuditResult) result = NULL;

		g_assert_true(g_file_set_contents(copy,
		                                  g_bytes_get_data(pristine, NULL),
		                                  (gssize)g_bytes_get_size(pristine),
		                                  NULL));
		test_sql_exec(copy, cases[i].sql);
		if (cases[i].rechain)
			test_audit_rechain(copy, 1);
		result = test_audit(copy);
		g_assert_false(result->ok);
		g_test_message("found: %s", result->problem);
		g_assert_nonnull(strstr(result->problem, cases[i].problem));
	}
}

/* one lane of the group commit test: commits @log, keeps the result */
typedef struct {
	FstDb *db;
	FstDbDeviceLog *log; /* (owned) */
	gboolean ok;
	GError *error; /* (owned) (nullable) */
} TestLane;

static gpointer
test_lane_commit(gpointer data)
{
	TestLane *lane = data;
	lane->ok = fst_db_device_log_commit(lane->db, lane->log, &lane->error);
	return NULL;
}

/* a first commit as the pipeline's: device, event, certificate, object */
static FstDbDeviceLog *
test_lane_log_firmware(const gchar *uid, const gchar *firmware, guint64 serial)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDeviceInfo) info = test_info_new(uid, firmware);
	g_autoptr(FstDbCert) cert = test_cert_new(serial, uid);
	FstDbDeviceLog *log = fst_db_device_log_new(0, info, "/dev/ttyUSB3", &error);
	gint64 now = g_get_real_time();

	g_assert_no_error(error);
	fst_db_device_log_add_event(log, "identify", now, now + 1, "ok", NULL);
	fst_db_device_log_add_certificate(log, cert);
	fst_db_device_log_add_event(log, "issue", now + 1, now + 2, "ok", NULL);
	fst_db_device_log_add_object(
	    log, cert->serial_hex, FST_OBJECT_DEVICE_CERT, cert->der, NULL);
	return log;
}

static FstDbDeviceLog *
test_lane_log(const gchar *uid, guint64 serial)
{
	return test_lane_log_firmware(uid, "2.0.0", serial);
}

static void
test_lane_wait_queued(FstDb *db, guint n)
{
	guint waiting = 0;
	for (guint i = 0; i < 10000; i++) {
		fst_db_get_commit_stats(db, NULL, NULL, &waiting);
		if (waiting >= n)
			return;
		g_usleep(1000);
	}
	g_assert_cmpuint(waiting, >=, n);
}

/* commits the logs of @lanes in one group: another connection holds the
 * write lock, so the first lane leads (and waits for the lock) and the
 * others queue behind it in this order; once the lock is free the leader
 * writes them all */
static void
test_lanes_commit_as_one_group(FstDb *db, const gchar *path, TestLane *lanes, guint n)
{
	g_autoptr(sqlite3) holder = test_sql_open(path);
	g_autofree GThread **threads = g_new0(GThread *, n);

	g_assert_cmpint(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);
	for (guint i = 0; i < n; i++) {
		lanes[i].db = db;
		threads[i] = g_thread_new("lane", test_lane_commit, &lanes[i]);
		if (i > 0)
			test_lane_wait_queued(db, i);
	}
	g_assert_cmpint(sqlite3_exec(holder, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
	for (guint i = 0; i < n; i++)
		g_thread_join(threads[i]);
}

/*
 * Two connections to one file take turns writing (a station and a CLI
 * command on the same workspace): each transaction extends the chain from
 * the event the other one wrote last, so the chain stays one and verifies,
 * whatever either connection remembers of the chain's end from its own
 * last commit.
 */
static void
test_two_writers_one_chain(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) a = fst_db_open(fx->path, &error);
	g_autoptr(FstDb) b = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	gint64 now = g_get_real_time();

	g_assert_no_error(error);
	b = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < 6; i++) {
		FstDb *db = i % 2 == 0 ? a : b;
		g_autofree gchar *uid = g_strdup_printf("TURN-%u", i);
		/* two commits in a row by the same connection, then the other's */
		test_provision(db, 0, uid, 0x7100 + i, NULL);
		g_assert_true(
		    fst_db_add_event(db, 0, "station-note", now, now + 1, "ok", uid, &error));
		g_assert_no_error(error);
	}
	g_clear_pointer(&a, fst_db_close);
	g_clear_pointer(&b, fst_db_close);
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 6);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM events"),
	                ==,
	                test_sql_int(fx->path, "SELECT max(id) FROM events"));
}

/*
 * The station's connection writes its WAL once per commit, through a VFS
 * that gathers the frames until SQLite syncs the file: every commit must
 * be in the file, whole, for any other connection (here a plain one, as
 * another process would open the file) once it returns. A commit of about
 * 1.3 MB (80 steps of 16 KiB in one device log) is written in pieces, past
 * the VFS's buffer, and read back whole; the audit chain holds.
 */
static void
test_wal_commits_seen_by_others(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(FstAuditResult) audit = NULL;
	g_autoptr(FstDbDeviceLog) big = NULL;
	g_autofree gchar *detail = NULL;
	g_autofree gchar *last = NULL;
	gint64 now = g_get_real_time();

	g_assert_no_error(error);
	for (guint i = 0; i < 3; i++) {
		g_autofree gchar *uid = g_strdup_printf("WAL-%u", i);
		g_autoptr(FstDbDeviceLog) log = test_lane_log(uid, 0x7300 + i);
		g_assert_true(fst_db_device_log_commit(db, log, &error));
		g_assert_no_error(error);
		g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM devices"), ==, i + 1);
		g_assert_cmpint(
		    test_sql_int(fx->path, "SELECT count(*) FROM certificates"), ==, i + 1);
	}

	big = test_lane_log("WAL-BIG", 0x7310);
	detail = g_strnfill(16 * 1024, 'w');
	for (guint i = 0; i < 80; i++)
		fst_db_device_log_add_event(big, "burn", now + i, now + i + 1, "ok", detail);
	g_assert_true(fst_db_device_log_commit(db, big, &error));
	g_assert_no_error(error);
	g_assert_cmpint(
	    test_sql_int(
	        fx->path,
	        "SELECT length(e.detail) FROM events e JOIN devices d ON d.id = e.device_id "
	        "WHERE d.uid = 'WAL-BIG'"),
	    >,
	    80 * 16 * 1024);
	last = test_sql_text(fx->path,
	                     "SELECT substr(detail, -40) FROM events WHERE id = (SELECT max(id) "
	                     "FROM events)");
	/* the end of the last step's detail, the last bytes of the commit */
	g_assert_true(g_str_has_suffix(last, "wwww\"]]"));
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM devices"), ==, 4);

	g_clear_pointer(&db, fst_db_close);
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 4);
}

/*
 * Another process that opens the database and closes it (a `fleetstation`
 * command, the sqlite3 shell) while the station has it open with two
 * connections (the line's and its registration worker's) leaves the log
 * where it is: it cannot take the file for itself, so it does not fold the
 * WAL into the database and delete it at its close. The station's next
 * commit is then in the WAL every process reads, and no longer only in a
 * deleted file, lost at the station's next power loss.
 */
static void
test_wal_kept_for_other_processes(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(FstDb) second = NULL;
	g_autoptr(FstDbDeviceLog) first_log = test_lane_log("KEEP-0", 0x7400);
	g_autoptr(FstDbDeviceLog) next_log = test_lane_log("KEEP-1", 0x7401);
	g_autoptr(FstAuditResult) audit = NULL;
	g_autofree gchar *wal = g_strconcat(fx->path, "-wal", NULL);
	g_autofree gchar *count = NULL;

	g_assert_no_error(error);
	g_assert_true(fst_db_device_log_commit(db, first_log, &error));
	g_assert_no_error(error);
	second = fst_db_open(fx->path, &error);
	g_assert_no_error(error);

	count = test_sqlite3_cli_text(fx->path, "SELECT count(*) FROM devices");
	g_assert_cmpstr(count, ==, "1\n");
	g_assert_true(g_file_test(wal, G_FILE_TEST_EXISTS));

	g_assert_true(fst_db_device_log_commit(db, next_log, &error));
	g_assert_no_error(error);
	g_clear_pointer(&count, g_free);
	count = test_sqlite3_cli_text(fx->path, "SELECT count(*) FROM devices");
	g_assert_cmpstr(count, ==, "2\n");

	g_clear_pointer(&second, fst_db_close);
	g_clear_pointer(&db, fst_db_close);
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 2);
}

/* runs @sql on @db, which must succeed */
static void
test_sql_run(sqlite3 *db, const gchar *sql)
{
	gchar *errmsg = NULL;
	sqlite3_exec(db, sql, NULL, NULL, &errmsg);
	g_assert_cmpstr(errmsg, ==, NULL);
}

/*
 * The station's VFS holds a commit's WAL frames until the sync. Frames
 * SQLite writes without a commit (a transaction larger than the page cache
 * spills some) and then rolls back are never written after the write lock
 * is given up: another connection commits at those places in the WAL next,
 * and the rolled-back frames must not land over its commit when the first
 * connection reads again or closes.
 */
static void
test_wal_rolled_back_spill(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(sqlite3) station = NULL;
	g_autoptr(sqlite3) other = test_sql_open(fx->path);
	g_autofree gchar *wal = g_strconcat(fx->path, "-wal", NULL);
	g_autofree gchar *check = NULL;
	GStatBuf st;

	g_assert_no_error(error);
	/* a connection through the station's VFS, with a cache of a few pages */
	g_assert_cmpint(
	    sqlite3_open_v2(fx->path, &station, SQLITE_OPEN_READWRITE, "fleetstation-wal"),
	    ==,
	    SQLITE_OK);
	test_sql_run(
	    station,
	    "PRAGMA synchronous = FULL; PRAGMA cache_size = 10; "
	    "CREATE TABLE scratch (x BLOB); "
	    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) "
	    "INSERT INTO scratch SELECT randomblob(1500) FROM n; "
	    "PRAGMA wal_checkpoint(TRUNCATE)");
	/* every page is read from the database file and spilled to the WAL once */
	test_sql_run(station, "BEGIN; UPDATE scratch SET x = randomblob(1500); ROLLBACK");
	/* the case this test is for: the undone pages were held, not written */
	g_assert_cmpint(g_stat(wal, &st), ==, 0);
	g_assert_cmpint(st.st_size, <, 100 * 1500);

	test_sql_run(other, "INSERT INTO scratch VALUES ('committed by another connection')");
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM scratch"), ==, 101);
	test_sql_run(station, "SELECT count(*) FROM scratch");
	g_clear_pointer(&station, sqlite3_close);

	g_assert_cmpint(test_sql_int(fx->path,
	                             "SELECT count(*) FROM scratch WHERE x = 'committed by "
	                             "another connection'"),
	                ==,
	                1);
	check = test_sql_text(fx->path, "PRAGMA integrity_check");
	g_assert_cmpstr(check, ==, "ok");
}

/*
 * The central sync's connection for its marks writes the station database
 * without waiting for the disk, but never below synchronous=NORMAL: the
 * checkpoints it runs (after a commit, at its close) fold the line's
 * records into the file and let the WAL be written over, and with OFF they
 * synced nothing (strace of a checkpoint: no sync with OFF, 3 with NORMAL).
 * Its checkpoint of the line's WAL leaves every record readable.
 */
static void
test_central_marks_connection_syncs_checkpoints(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(FstDbDeviceLog) log = test_lane_log("MARKS-0", 0x7600);
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	sqlite3 *marks;

	g_assert_no_error(error);
	g_assert_true(fst_db_device_log_commit(db, log, &error));
	g_assert_no_error(error);
	marks = _fst_central_open_marks(fx->path, &error);
	g_assert_no_error(error);
	g_assert_nonnull(marks);
	g_assert_cmpint(
	    sqlite3_prepare_v2(marks, "PRAGMA synchronous", -1, &stmt, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	g_assert_cmpint(sqlite3_column_int(stmt, 0), >=, 1);
	g_clear_pointer(&stmt, sqlite3_finalize);
	test_sql_run(marks, "PRAGMA wal_checkpoint(PASSIVE)");
	sqlite3_close(marks);

	g_clear_pointer(&db, fst_db_close);
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 1);
}

/*
 * Lanes that commit while another commit is being written share one
 * transaction, and a log the database refuses in that group fails alone:
 * another process holds the write lock, so the first lane waits for it as
 * the leader and the next ones queue behind; once the lock is free the
 * leader takes them into its own transaction, before its COMMIT. Two logs of the group repeat a
 * serial (one in the middle, one last, each after its device row and an event were written in the
 * group's transaction): those two fail, with nothing of them on disk, and the other logs of the
 * group (a first commit, a device's final commit) are durable and bound into one intact audit
 * chain.
 */
static void
test_device_log_group_commit(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstAuditResult) audit = NULL;
	g_autoptr(FstDbDevice) finished = NULL;
	g_autofree gchar *finish_serial = g_strdup_printf("%X", 0x6700);
	TestLane lanes[6] = {0};
	guint64 transactions = 0;
	guint64 logs = 0;
	guint64 tx_before = 0;
	guint64 logs_before = 0;
	gint64 now = g_get_real_time();

	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	/* a device whose final commit joins the group */
	lanes[1].log = test_lane_log("GROUP-FINISH", 0x6700);
	g_assert_true(fst_db_device_log_commit(db, lanes[1].log, &error));
	g_assert_no_error(error);
	fst_db_device_log_add_event(lanes[1].log, "burn", now, now + 1, "ok", NULL);
	fst_db_device_log_finish(lanes[1].log, finish_serial, NULL);
	fst_db_get_commit_stats(db, &tx_before, &logs_before, NULL);
	g_assert_cmpuint(tx_before, ==, 1);
	g_assert_cmpuint(logs_before, ==, 1);

	lanes[0].log = test_lane_log("GROUP-0", 0x6600);
	lanes[2].log = test_lane_log("GROUP-2", 0x6602);
	lanes[3].log = test_lane_log("GROUP-3-DUP", 0x6602);
	lanes[4].log = test_lane_log("GROUP-4", 0x6604);
	lanes[5].log = test_lane_log("GROUP-5-DUP", 0x6604);

	test_lanes_commit_as_one_group(db, fx->path, lanes, G_N_ELEMENTS(lanes));

	for (guint i = 0; i < G_N_ELEMENTS(lanes); i++) {
		gboolean dup = i == 3 || i == 5;
		g_assert_cmpint(lanes[i].ok, ==, !dup);
		if (dup) {
			g_assert_nonnull(lanes[i].error);
			g_assert_nonnull(strstr(lanes[i].error->message, "-DUP"));
			g_assert_cmpint(fst_db_device_log_get_device_id(lanes[i].log), ==, 0);
		} else {
			g_assert_no_error(lanes[i].error);
			g_assert_cmpint(fst_db_device_log_get_device_id(lanes[i].log), >, 0);
		}
	}
	/* the leader and the five queued behind it in one transaction */
	fst_db_get_commit_stats(db, &transactions, &logs, NULL);
	g_assert_cmpuint(transactions - tx_before, ==, 1);
	g_assert_cmpuint(logs - logs_before, ==, 4);
	g_clear_pointer(&db, fst_db_close);

	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM devices WHERE uid LIKE '%-DUP'"), ==, 0);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM devices"), ==, 4);
	g_assert_cmpint(test_sql_int(fx->path, "SELECT count(*) FROM certificates"), ==, 4);
	g_assert_cmpint(
	    test_sql_int(fx->path, "SELECT count(*) FROM events WHERE detail LIKE '%-DUP%'"),
	    ==,
	    0);
	db = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	finished = fst_db_find_device(db, "GROUP-FINISH", &error);
	g_assert_no_error(error);
	g_assert_cmpint(finished->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_cmpint(finished->cert->state, ==, FST_CERT_STATE_VERIFIED);
	g_clear_pointer(&db, fst_db_close);

	/* one chain, every row bound: 4 devices, 4 certificates, 4 objects
	 * and the names they use */
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 4);
	g_assert_cmpint(audit->rows, >=, 12);
	for (guint i = 0; i < G_N_ELEMENTS(lanes); i++) {
		fst_db_device_log_free(lanes[i].log);
		g_clear_error(&lanes[i].error);
	}
}

/* device uid -> the roots cell of its `roots report` row */
static gboolean
test_roots_row(const gchar *const *cells, gpointer user_data, GError **error)
{
	g_hash_table_insert(user_data, g_strdup(cells[0]), g_strdup(cells[5]));
	return TRUE;
}

/*
 * The roots report gives each provisioned device the roots last written to
 * it: a later trust-roots object (a trust-only job) wins over the one its
 * certificate came with, also when another device's objects were written
 * in between; a device with no certificate in service is left out.
 */
static void
test_report_roots_last_object(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(GHashTable) rows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_autoptr(GBytes) roots = g_bytes_new_static("newer", 5);
	g_autoptr(FstDeviceInfo) info = test_info_new("RR-NONE", "1.0.0");
	gint64 station_id;
	gint64 first;

	g_assert_no_error(error);
	station_id = fst_db_ensure_station(db, "line-1", NULL, NULL, &error);
	g_assert_no_error(error);
	first = test_provision(db, station_id, "RR-1", 0xD1, NULL);
	test_provision(db, station_id, "RR-2", 0xD2, NULL);
	g_assert_true(
	    fst_db_add_object(db, first, "D1", FST_OBJECT_TRUST_ROOTS, roots, "cc,dd", &error));
	g_assert_no_error(error);
	g_assert_cmpint(fst_db_begin_device(db, station_id, info, NULL, &error), >, 0);
	g_assert_no_error(error);

	g_assert_true(fst_report_foreach_roots(fx->path, NULL, test_roots_row, rows, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(g_hash_table_size(rows), ==, 2);
	g_assert_cmpstr(g_hash_table_lookup(rows, "RR-1"), ==, "cc,dd");
	g_assert_cmpstr(g_hash_table_lookup(rows, "RR-2"), ==, "aa,bb");
}

/*
 * A row is bound with the hash its last write had, taken in SQLite's
 * pre-update hook, unless that write may have been undone: in one group,
 * a device's first log records it (firmware 2.0.0), then a second log of
 * the same device rewrites its row (firmware 9.9.9) and is refused. Its
 * savepoint is rolled back, the row holds 2.0.0 again, and its binding
 * must say so: the audit verifies. Refused by the database (a serial
 * already recorded: a failed statement) and by the log's own check (an
 * object of no known kind: no statement fails). Without the read back
 * after the rollback, the undone write would be bound and the audit would
 * find the device row changed.
 */
static void
test_device_log_group_rebinds_undone_row(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->path, &error);
	g_autoptr(FstAuditResult) audit = NULL;
	g_autoptr(FstDbDeviceLog) before = test_lane_log("UNDONE-BEFORE", 0x7500);
	g_autoptr(GBytes) bytes = g_bytes_new_static("x", 1);

	g_assert_no_error(error);
	g_assert_true(fst_db_device_log_commit(db, before, &error));
	g_assert_no_error(error);
	for (guint c = 0; c < 2; c++) {
		g_autofree gchar *uid = g_strdup_printf("UNDONE-%u", c);
		g_autofree gchar *sql =
		    g_strdup_printf("SELECT firmware FROM devices WHERE uid = '%s'", uid);
		g_autofree gchar *firmware = NULL;
		TestLane lanes[2] = {0};

		lanes[0].log = test_lane_log_firmware(uid, "2.0.0", 0x7510 + c);
		if (c == 0) {
			lanes[1].log = test_lane_log_firmware(uid, "9.9.9", 0x7500);
		} else {
			lanes[1].log = test_lane_log_firmware(uid, "9.9.9", 0x7520);
			fst_db_device_log_add_object(
			    lanes[1].log, NULL, (FstObjectKind)99, bytes, NULL);
		}
		test_lanes_commit_as_one_group(db, fx->path, lanes, G_N_ELEMENTS(lanes));

		g_assert_true(lanes[0].ok);
		g_assert_no_error(lanes[0].error);
		g_assert_false(lanes[1].ok);
		g_assert_nonnull(lanes[1].error);
		firmware = test_sql_text(fx->path, sql);
		g_assert_cmpstr(firmware, ==, "2.0.0");
		for (guint i = 0; i < G_N_ELEMENTS(lanes); i++) {
			fst_db_device_log_free(lanes[i].log);
			g_clear_error(&lanes[i].error);
		}
	}
	g_clear_pointer(&db, fst_db_close);
	audit = test_audit(fx->path);
	g_assert_true(audit->ok);
	g_assert_cmpint(audit->certificates, ==, 3);
}

static void
test_add(const gchar *path, void (*func)(TestFixture *, gconstpointer))
{
	g_test_add(path, TestFixture, NULL, test_fixture_setup, func, test_fixture_teardown);
}

int
main(int argc, char **argv)
{
	gint rc;

	g_test_init(&argc, &argv, NULL);
	test_key = EVP_EC_gen("P-256");
	g_assert_nonnull(test_key);

	test_add("/fst/db/open/creates-schema-v1-wal", test_open_creates_schema);
	test_add("/fst/db/open/fixes-world-writable", test_open_fixes_world_writable);
	test_add("/fst/db/open/refuses-newer-schema", test_open_refuses_newer_schema);
	test_add("/fst/db/open/refuses-newer-schema-wal", test_open_refuses_newer_schema_wal);
	test_add("/fst/db/open/refuses-non-database", test_open_refuses_non_database);
	test_add("/fst/db/device/provisioned-survives-reopen",
	         test_device_provisioned_survives_reopen);
	test_add("/fst/db/device/failed-keeps-certificate", test_device_failed_keeps_certificate);
	test_add("/fst/db/device/cancelled-outcome", test_device_cancelled_outcome);
	test_add("/fst/db/device/reprovision-keeps-one-row", test_device_reprovision_one_row);
	test_add("/fst/db/device/rejects-untrusted-strings", test_input_untrusted_strings);
	test_add("/fst/db/certificate/rejects-duplicate", test_certificate_rejects_duplicate);
	test_add("/fst/db/certificate/state-moves-forward-only",
	         test_certificate_state_forward_only);
	test_add("/fst/db/object/checks-owner-and-kind", test_object_checks);
	test_add("/fst/db/events/ordered-with-outcomes", test_events_ordered);
	test_add("/fst/db/threads/concurrent-devices", test_threads_concurrent_devices);
	test_add("/fst/db/migrate/from-v1-fixture", test_migrate_from_v1_fixture);
	test_add("/fst/db/migrate/failure-rolls-back", test_migrate_failure_rolls_back);
	test_add("/fst/db/migrate/concurrent-open", test_migrate_concurrent_open);
	test_add("/fst/db/migrate/v1-backed-up-first", test_migrate_v1_backup);
	test_add("/fst/db/migrate/from-v2-fixture", test_migrate_from_v2_fixture);
	test_add("/fst/db/migrate/v2-failure-keeps-v1", test_migrate_v2_failure_keeps_v1);
	test_add("/fst/db/migrate/from-v3-fixture", test_migrate_from_v3_fixture);
	test_add("/fst/db/migrate/from-v4-fixture", test_migrate_from_v4_fixture);
	test_add("/fst/db/migrate/from-v5-fixture", test_migrate_from_v5_fixture);
	test_add("/fst/db/migrate/from-v6-fixture", test_migrate_from_v6_fixture);
	test_add("/fst/db/migrate/from-v7-fixture", test_migrate_from_v7_fixture);
	test_add("/fst/db/migrate/from-v8-fixture", test_migrate_from_v8_fixture);
	test_add("/fst/db/migrate/v9-fixture-is-current", test_migrate_v9_fixture_current);
	test_add("/fst/db/migrate/compressed-key-filed-again",
	         test_migrate_compressed_key_filed_again);
	test_add("/fst/db/certificates/one-key-one-device", test_cert_key_one_device);
	test_add("/fst/db/registrations/queue-claims-its-target", test_queue_claims_its_target);
	test_add("/fst/db/registrations/aws-records", test_foreach_aws_record);
	test_add("/fst/db/registrations/revoke-queued-where-registered",
	         test_revoke_queued_where_registered);
	test_add("/fst/db/context/operator-and-lot", test_context_operator_lot);
	test_add("/fst/db/events/busy-refusals-in-history", test_events_busy_refusals);
	test_add("/fst/db/certificate/revoke", test_revoke_certificate);
	test_add("/fst/db/device/interrupted-marked-rework", test_mark_interrupted);
	test_add("/fst/db/certificate/interrupted-superseded-when-reprovisioned",
	         test_interrupted_certificate_superseded);
	test_add("/fst/db/backup/online-never-overwrites", test_backup_online);
	test_add("/fst/db/audit/catches-tampering", test_audit_catches_tampering);
	for (guint i = 0; i < G_N_ELEMENTS(test_tamper_kinds); i++) {
		g_autofree gchar *path =
		    g_strdup_printf("/fst/audit/verify/%s", test_tamper_kinds[i].path);
		g_test_add(path,
		           TestFixture,
		           &test_tamper_kinds[i],
		           test_fixture_setup,
		           test_audit_tamper_kind,
		           test_fixture_teardown);
	}
	test_add("/fst/audit/verify/anchor", test_audit_anchor);
	test_add("/fst/db/device-log/two-commits", test_device_log_two_commits);
	test_add("/fst/db/audit/two-writers-one-chain", test_two_writers_one_chain);
	test_add("/fst/db/wal/commits-seen-by-other-connections", test_wal_commits_seen_by_others);
	test_add("/fst/db/wal/rolled-back-spill-never-written", test_wal_rolled_back_spill);
	test_add("/fst/db/central/marks-connection-syncs-checkpoints",
	         test_central_marks_connection_syncs_checkpoints);
	test_add("/fst/db/wal/kept-while-another-process-closes",
	         test_wal_kept_for_other_processes);
	test_add("/fst/db/report/roots-last-object", test_report_roots_last_object);
	test_add("/fst/db/device-log/group-rebinds-undone-row",
	         test_device_log_group_rebinds_undone_row);
	test_add("/fst/db/device-log/one-event-per-commit", test_device_log_one_event_per_commit);
	test_add("/fst/audit/verify/folded-steps", test_audit_folded_steps);
	g_test_add_func("/fst/audit/steps/payload-round-trip", test_audit_steps_payload);
	test_add("/fst/db/device-log/failed-commit-writes-nothing", test_device_log_failed_commit);
	test_add("/fst/db/device-log/group-commit-isolates-failures", test_device_log_group_commit);
	test_add("/fst/db/rework/supersede-queues-deactivation", test_rework_supersede);
	test_add("/fst/db/rework/supersede-refused", test_rework_supersede_refused);
	test_add("/fst/db/rework/superseded-state-moves", test_rework_superseded_moves);
	test_add("/fst/db/escrow/stored-with-its-event", test_escrow_stored);
	test_add("/fst/db/trust-only/roots-row-without-certificate", test_trust_only_job);

	rc = g_test_run();
	EVP_PKEY_free(test_key);
	return rc;
}
