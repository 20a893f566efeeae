/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstAwsBulkTest"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <string.h>

#include "fst-aws-iot.h"
#include "fst-db-queue.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-registration.h"

/*
 * AWS bulk registration files: `register export` writes one JSON line per
 * pending certificate of a lot (the parameters of the provisioning template
 * it writes next to it) and holds those rows; `register import-results`
 * reconciles the task's result and error reports by line offset.
 */

static EVP_PKEY *test_key = NULL;

static GBytes *
test_make_cert(guint serial)
{
	/* a key per device: the database refuses one device's key for another */
	g_autoptr(EVP_PKEY) device_key = EVP_EC_gen("P-256");
	g_autoptr(X509) x = X509_new();
	X509_NAME *name = X509_NAME_new();
	guint8 *der = NULL;
	gint len;
	GBytes *bytes;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)serial);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const guchar *)"bulk", -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_NAME_free(name);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, device_key);
	g_assert_cmpint(X509_sign(x, test_key, EVP_sha256()), >, 0);
	len = i2d_X509(x, &der);
	bytes = g_bytes_new(der, len);
	OPENSSL_free(der);
	return bytes;
}

static gint64
test_sql_int(const gchar *path, const gchar *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	gint64 value;
	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return value;
}

static void
test_rmrf(const gchar *path)
{
	g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
	const gchar *name;
	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		g_unlink(child);
	}
	g_rmdir(path);
}

static void
test_bulk_round_trip(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-aws-bulk-XXXXXX", NULL);
	g_autofree gchar *db_path = g_build_filename(dir, "station.db", NULL);
	g_autofree gchar *params_path = g_build_filename(dir, "L-7-params.jsonl", NULL);
	g_autofree gchar *template_path = g_build_filename(dir, "L-7-template.json", NULL);
	g_autofree gchar *results_path = g_build_filename(dir, "results.jsonl", NULL);
	g_autofree gchar *errors_path = g_build_filename(dir, "errors.jsonl", NULL);
	g_autofree gchar *params = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(JsonParser) tparser = json_parser_new();
	g_auto(GStrv) lines = NULL;
	g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) results = g_string_new(NULL);
	g_autofree gchar *bad_path = g_build_filename(dir, "bad.jsonl", NULL);
	const gchar *reports[] = {results_path, errors_path, NULL};
	const gchar *bad_reports[] = {bad_path, NULL};
	JsonObject *tparams;
	guint n = 0, n_ok = 0, n_failed = 0;

	db = fst_db_open(db_path, &error);
	g_assert_no_error(error);
	/* three certificates of lot L-7 and one of another lot */
	for (guint i = 0; i < 4; i++) {
		g_autoptr(GBytes) der = test_make_cert(0x100 + i);
		g_autofree gchar *uid = g_strdup_printf("BULK/%u", i);
		g_autofree gchar *serial = g_strdup_printf("%X", 0x100 + i);
		FstDeviceInfo info = {.uid = uid, .model = (gchar *)(guintptr) "t"};
		FstDbCert cert = {.serial_hex = serial,
		                  .der = der,
		                  .key_type = (gchar *)(guintptr) "ec-p256",
		                  .not_after = G_MAXINT32,
		                  .register_target = (gchar *)(guintptr) "aws-iot:eu-west-1"};
		gint64 device_id;
		g_assert_true(fst_db_set_context(db, "op", i < 3 ? "L-7" : "L-8", &error));
		device_id = fst_db_begin_device(db, 0, &info, NULL, &error);
		g_assert_no_error(error);
		g_assert_true(fst_db_add_certificate(db, device_id, &cert, &error));
		g_assert_no_error(error);
	}

	g_assert_true(fst_registration_export(db_path,
	                                      "L-7",
	                                      "line7-{uid}",
	                                      "fleet-line7",
	                                      dir,
	                                      (gint64)G_USEC_PER_SEC * 3600,
	                                      &n,
	                                      &error));
	g_assert_no_error(error);
	g_assert_cmpuint(n, ==, 3);

	/* the parameter file: one object a line, the template's parameters */
	g_assert_true(json_parser_load_from_file(tparser, template_path, &error));
	g_assert_no_error(error);
	tparams = json_object_get_object_member(json_node_get_object(json_parser_get_root(tparser)),
	                                        "Parameters");
	g_assert_true(g_file_get_contents(params_path, &params, NULL, &error));
	lines = g_strsplit(params, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 4);
	g_assert_cmpstr(lines[3], ==, "");
	for (guint i = 0; i < 3; i++) {
		g_autoptr(JsonParser) p = json_parser_new();
		g_autofree gchar *thing = g_strdup_printf("line7-BULK_%u", i);
		JsonObject *obj;
		g_assert_null(strchr(lines[i], '\n'));
		g_assert_true(json_parser_load_from_data(p, lines[i], -1, &error));
		obj = json_node_get_object(json_parser_get_root(p));
		g_assert_cmpuint(json_object_get_size(obj), ==, json_object_get_size(tparams));
		g_assert_true(json_object_has_member(tparams, "ThingName"));
		g_assert_cmpstr(json_object_get_string_member(obj, "ThingName"), ==, thing);
		g_ptr_array_add(ids,
		                fst_aws_certificate_id_from_pem(
		                    json_object_get_string_member(obj, "CertificatePem"), &error));
		g_assert_no_error(error);
	}
	{
		g_autofree gchar *tmpl = NULL;
		g_assert_true(g_file_get_contents(template_path, &tmpl, NULL, NULL));
		g_assert_nonnull(strstr(tmpl, "\"PolicyName\": \"fleet-line7\""));
	}
	/* held for the task: no worker takes them */
	g_assert_cmpint(
	    test_sql_int(db_path,
	                 "SELECT count(*) FROM registrations WHERE state = 'in-progress' "
	                 "AND next_attempt_at > strftime('%s','now') * 1000000"),
	    ==,
	    3);

	/* a report naming a certificate by the wrong id is refused */
	{
		g_autofree gchar *bad =
		    g_strdup_printf("{\"offset\":0,\"response\":{\"ResourceArns\":{\"certificate\":"
		                    "\"arn:aws:iot:eu-west-1:123456789012:cert/%s\"}}}\n",
		                    (const gchar *)g_ptr_array_index(ids, 1));
		g_assert_true(g_file_set_contents(bad_path, bad, -1, NULL));
		g_assert_false(fst_registration_import_results(
		    db_path, params_path, bad_reports, NULL, NULL, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
		g_clear_error(&error);
	}

	/* offsets 0 and 2 registered, 1 refused */
	for (guint i = 0; i < 3; i += 2)
		g_string_append_printf(
		    results,
		    "{\"offset\":%u,\"response\":{\"ResourceArns\":{\"certificate\":"
		    "\"arn:aws:iot:eu-west-1:123456789012:cert/%s\",\"thing\":"
		    "\"arn:aws:iot:eu-west-1:123456789012:thing/x\"}}}\n",
		    i,
		    (const gchar *)g_ptr_array_index(ids, i));
	g_assert_true(g_file_set_contents(results_path, results->str, -1, NULL));
	g_assert_true(g_file_set_contents(errors_path,
	                                  "{\"offset\":1,\"errorCode\":\"InvalidRequestException\","
	                                  "\"errorMessage\":\"bad cert\"}\n",
	                                  -1,
	                                  NULL));
	g_assert_true(fst_registration_import_results(
	    db_path, params_path, reports, &n_ok, &n_failed, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(n_ok, ==, 2);
	g_assert_cmpuint(n_failed, ==, 1);
	g_assert_cmpint(
	    test_sql_int(db_path,
	                 "SELECT count(*) FROM registrations r JOIN certificates c ON "
	                 "c.id = r.certificate_id WHERE r.state = 'done' AND r.remote_id "
	                 "= 'arn:aws:iot:eu-west-1:123456789012:cert/' || c.aws_cert_id"),
	    ==,
	    2);
	g_assert_cmpint(
	    test_sql_int(db_path,
	                 "SELECT count(*) FROM registrations WHERE state = 'failed' AND "
	                 "last_error LIKE '%InvalidRequestException: bad cert'"),
	    ==,
	    1);
	g_assert_cmpint(
	    test_sql_int(db_path, "SELECT count(*) FROM events WHERE step = 'aws-bulk-register'"),
	    ==,
	    3);
	/* the other lot was left alone */
	g_assert_cmpint(
	    test_sql_int(db_path, "SELECT count(*) FROM registrations WHERE state = 'pending'"),
	    ==,
	    1);
	/* nothing left to export in that lot */
	g_assert_false(
	    fst_registration_export(db_path, "L-7", NULL, NULL, dir, G_USEC_PER_SEC, &n, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_pointer(&db, fst_db_close);
	test_rmrf(dir);
}

/* the device log's commit queues the certificate in the same transaction:
 * a rolled-back log leaves no row, a committed one leaves exactly one */
static void
test_queue_from_device_log(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-aws-log-XXXXXX", NULL);
	g_autofree gchar *db_path = g_build_filename(dir, "station.db", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(GBytes) der = test_make_cert(0x777);
	g_autoptr(GBytes) der2 = test_make_cert(0x778);
	FstDeviceInfo info = {.uid = (gchar *)(guintptr) "LOG-1", .model = (gchar *)(guintptr) "t"};
	FstDbCert cert = {.serial_hex = (gchar *)(guintptr) "0777",
	                  .der = der,
	                  .key_type = (gchar *)(guintptr) "ec-p256",
	                  .not_after = G_MAXINT32,
	                  .register_target = (gchar *)(guintptr) "aws-iot:eu-west-1"};
	FstDbDeviceLog *log;

	db = fst_db_open(db_path, &error);
	g_assert_no_error(error);
	log = fst_db_device_log_new(0, &info, NULL, &error);
	g_assert_no_error(error);
	fst_db_device_log_add_certificate(log, &cert);
	g_assert_true(fst_db_device_log_commit(db, log, &error));
	g_assert_no_error(error);
	fst_db_device_log_free(log);
	g_assert_cmpint(test_sql_int(db_path,
	                             "SELECT count(*) FROM registrations r JOIN certificates c ON "
	                             "c.id = r.certificate_id WHERE c.serial_hex = '0777' AND "
	                             "r.action = 'register' AND r.state = 'pending' AND r.target = "
	                             "'aws-iot:eu-west-1'"),
	                ==,
	                1);

	/* a target that is no target fails the commit: nor certificate nor row */
	cert.serial_hex = (gchar *)(guintptr) "0778";
	cert.der = der2;
	cert.register_target = (gchar *)(guintptr) "aws iot";
	log = fst_db_device_log_new(0, &info, NULL, &error);
	g_assert_no_error(error);
	fst_db_device_log_add_certificate(log, &cert);
	g_assert_false(fst_db_device_log_commit(db, log, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	fst_db_device_log_free(log);
	g_assert_cmpint(
	    test_sql_int(db_path, "SELECT count(*) FROM certificates WHERE serial_hex = '0778'"),
	    ==,
	    0);
	g_assert_cmpint(test_sql_int(db_path, "SELECT count(*) FROM registrations"), ==, 1);
	g_clear_pointer(&db, fst_db_close);
	test_rmrf(dir);
}

static void
test_thing_name(void)
{
	g_autofree gchar *name =
	    fst_registration_thing_name("l4-{uid}-{serial}-{lot}", "AB CD/1", "0F", "x", NULL);
	g_assert_cmpstr(name, ==, "l4-AB_CD_1-0F-");
}

int
main(int argc, char **argv)
{
	g_autoptr(EVP_PKEY_CTX) kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);

	g_test_init(&argc, &argv, NULL);
	EVP_PKEY_keygen_init(kctx);
	EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kctx, NID_X9_62_prime256v1);
	EVP_PKEY_keygen(kctx, &test_key);
	g_test_add_func("/fst/aws/registration/thing-name", test_thing_name);
	g_test_add_func("/fst/aws/registration/queued-with-its-certificate",
	                test_queue_from_device_log);
	g_test_add_func("/fst/aws/registration/bulk-export-import", test_bulk_round_trip);
	return g_test_run();
}
