#define G_LOG_DOMAIN "FstDbTest"

#include <glib/gstdio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>

#include "fst-db.h"
#include "fst-error.h"
#include "fst-openssl-common.h"

/*
 * Tests of the station database against real SQLite files, one temporary
 * folder per test. A second, raw SQLite connection checks what is really on
 * disk, independently of the code under test.
 */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3, sqlite3_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)

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

/* a real, signed X.509 certificate with @serial */
static GBytes *
test_make_der(guint64 serial, const gchar *cn)
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
	g_assert_cmpint(X509_set_pubkey(x509, test_key), ==, 1);
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
	g_assert_cmpuint(fst_db_get_schema_version(db), ==, 1);
	g_assert_cmpuint(fst_db_get_schema_version(db), ==, FST_DB_SCHEMA_VERSION);
	g_assert_cmpstr(fst_db_get_path(db), ==, path);

	/* what a second connection sees on disk */
	journal = test_sql_text(path, "PRAGMA journal_mode");
	g_assert_cmpstr(journal, ==, "wal");
	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, 1);
	g_assert_cmpint(test_sql_int(path,
	                             "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
	                             "name IN ('schema_migrations', 'db_properties', 'stations', "
	                             "'devices', 'certificates', 'device_objects', 'events')"),
	                ==,
	                7);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM schema_migrations"), ==, 1);
	g_assert_cmpint(test_sql_int(path, "SELECT max(version) FROM schema_migrations"), ==, 1);
	dbid = test_sql_text(path, "SELECT value FROM db_properties WHERE key = 'database-id'");
	g_assert_true(g_uuid_string_is_valid(dbid));

	/* no secrets inside, but the audit record must not be writable by all */
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & S_IWOTH, ==, 0);

	/* reopening does not migrate again */
	g_clear_pointer(&db, fst_db_close);
	db = fst_db_open(path, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(fst_db_get_schema_version(db), ==, 1);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM schema_migrations"), ==, 1);
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
	g_assert_cmpstr(dev->state, ==, "provisioned");
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
	g_assert_cmpstr(dev->state, ==, "failed");
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
	g_assert_cmpstr(dev2->state, ==, "provisioned");
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

	/* same DER under another serial: the SHA-256 is unique too */
	g_bytes_unref(same_der->der);
	same_der->der = g_bytes_ref(cert->der);
	g_assert_false(fst_db_add_certificate(db, device_id, same_der, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_DATABASE);
	g_assert_nonnull(strstr(error->message, "certificates.aws_cert_id"));
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
	g_assert_cmpstr(dev->state, ==, "in-progress");
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_REVOKED);
	events = fst_db_list_events(db, device_id, &error);
	g_assert_no_error(error);
	/* issued -> burned, burned -> revoked; nothing from the refused moves */
	g_assert_cmpuint(events->len, ==, 2);
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, 0))->detail,
	                ==,
	                "certificate 42: issued -> burned");
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, 1))->detail,
	                ==,
	                "certificate 42: burned -> revoked");

	g_assert_cmpstr(fst_cert_state_to_string(FST_CERT_STATE_REGISTERED), ==, "registered");
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
	g_assert_cmpstr(dev->state, ==, "in-progress");
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
	g_assert_cmpstr(dev->state, ==, "provisioned");
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
		g_assert_cmpstr(dev->state, ==, "provisioned");
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
	for (guint i = 0; i < 4; i++) {
		g_assert_true(
		    fst_db_add_event(db,
		                     device_id,
		                     expected[i].step,
		                     base + i * 1000,
		                     base + i * 1000 + 500,
		                     expected[i].outcome,
		                     i == 2 ? "storage-full: slot 1 holds 1024 bytes" : NULL,
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
		if (i < 4) {
			g_assert_cmpint(ev->started_us, ==, base + i * 1000);
			g_assert_cmpint(ev->ended_us, ==, base + i * 1000 + 500);
		}
		g_assert_cmpint(ev->ended_us, >=, ev->started_us);
	}
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, 2))->detail,
	                ==,
	                "storage-full: slot 1 holds 1024 bytes");
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, 6))->detail, ==, "certificate E1");
	g_assert_cmpstr(((FstDbEvent *)g_ptr_array_index(events, 5))->detail,
	                ==,
	                "certificate E1: burned -> verified");

	all = fst_db_list_events(db, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(all->len, ==, G_N_ELEMENTS(expected) + 1);
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
static gchar *
test_load_fixture(TestFixture *fx, const gchar *name)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *src = g_build_filename(FST_DB_TEST_DATA_DIR, name, NULL);
	g_autofree gchar *sql = NULL;
	g_autofree gchar *path = g_build_filename(fx->tmpdir, "fixture.db", NULL);

	g_file_get_contents(src, &sql, NULL, &error);
	g_assert_no_error(error);
	test_sql_exec(path, sql);
	return g_steal_pointer(&path);
}

static void
test_migrate_from_v1_fixture(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(FstDb) fresh = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(FstDbDevice) failed = NULL;
	g_autoptr(GPtrArray) devices = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autofree gchar *path = test_load_fixture(fx, "v1.sql");
	g_autofree gchar *schema_migrated = NULL;
	g_autofree gchar *schema_fresh = NULL;
	g_autofree gchar *sha = NULL;

	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, 1);
	db = fst_db_open(path, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(fst_db_get_schema_version(db), ==, FST_DB_SCHEMA_VERSION);

	/* the v1 data is all there */
	devices = fst_db_list_devices(db, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(devices->len, ==, 2);
	dev = fst_db_find_device(db, "FIXTURE-0001", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(dev->state, ==, "provisioned");
	g_assert_nonnull(dev->cert);
	g_assert_cmpstr(dev->cert->serial_hex, ==, "F1C0000001");
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_VERIFIED);
	sha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, dev->cert->der);
	g_assert_cmpstr(dev->cert->aws_cert_id, ==, sha);
	failed = fst_db_find_device(db, "FIXTURE-0002", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(failed->state, ==, "failed");
	g_assert_cmpstr(failed->last_error, ==, "reading back the device certificate: timed out");
	g_assert_cmpint(failed->cert->state, ==, FST_CERT_STATE_BURNED);
	events = fst_db_list_events(db, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, ==, 6);

	/* it keeps working after the migration */
	test_provision(db, 0, "AFTER-MIGRATION", 0xAF7E4, NULL);
	g_clear_pointer(&db, fst_db_close);

	/* a migrated database has the same schema as a new one */
	fresh = fst_db_open(fx->path, &error);
	g_assert_no_error(error);
	g_clear_pointer(&fresh, fst_db_close);
	schema_migrated = test_sql_schema(path);
	schema_fresh = test_sql_schema(fx->path);
	g_assert_cmpstr(schema_migrated, ==, schema_fresh);
	g_assert_cmpint(test_sql_int(path, "PRAGMA user_version"), ==, FST_DB_SCHEMA_VERSION);
	g_assert_cmpint(test_sql_int(path, "SELECT count(*) FROM schema_migrations"),
	                ==,
	                FST_DB_SCHEMA_VERSION);
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

	rc = g_test_run();
	EVP_PKEY_free(test_key);
	return rc;
}
