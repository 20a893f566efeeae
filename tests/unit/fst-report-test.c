/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstReportTest"

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fst-db.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-report-export.h"
#include "fst-report.h"
#include "fst-test-skip.h"

/*
 * Reports from a real database written through the fst-db API: CSV quoting
 * of hostile device strings (parsed back with an independent RFC 4180
 * reader), JSON, the PDF (pages and page numbers, rendered with pdftoppm
 * when it is installed) and signatures (a changed byte fails).
 */

static EVP_PKEY *test_key = NULL;

typedef struct {
	gchar *tmpdir;
	gchar *db_path;
	gchar *workspace;
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

static GBytes *
test_make_der(guint64 serial)
{
	/* a key per device: the database refuses one device's key for another */
	g_autoptr(EVP_PKEY) device_key = EVP_EC_gen("P-256");
	g_autoptr(X509) x509 = X509_new();
	g_autoptr(BIGNUM) bn = BN_new();
	guchar *der = NULL;
	gint len;
	GBytes *bytes;

	g_assert_cmpint(BN_set_word(bn, serial), ==, 1);
	g_assert_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x509)));
	g_assert_nonnull(X509_gmtime_adj(X509_getm_notBefore(x509), 0));
	g_assert_nonnull(X509_gmtime_adj(X509_getm_notAfter(x509), 3600));
	g_assert_cmpint(X509_set_pubkey(x509, device_key), ==, 1);
	g_assert_cmpint(X509_sign(x509, test_key, EVP_sha256()), >, 0);
	len = i2d_X509(x509, &der);
	g_assert_cmpint(len, >, 0);
	bytes = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return bytes;
}

/* one device through the API, provisioned or failed with @failure: @code at
 * @step, recorded as the pipeline does (the step's event, then the failure) */
static void
test_device(FstDb *db,
            gint64 station,
            const gchar *uid,
            const gchar *model,
            guint64 serial,
            const gchar *failure,
            FstError code,
            const gchar *step)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) der = test_make_der(serial);
	g_autofree gchar *serial_hex = g_strdup_printf("%" G_GINT64_MODIFIER "X", serial);
	g_autofree gchar *uid_copy = g_strdup(uid);
	g_autofree gchar *model_copy = g_strdup(model);
	g_autofree gchar *firmware = g_strdup("+1.0");
	g_autofree gchar *subject = g_strdup("CN=x, O=\"y\"");
	FstDeviceInfo info = {.uid = uid_copy, .model = model_copy, .firmware = firmware};
	FstDbCert cert = {.serial_hex = serial_hex, .der = der, .subject = subject};
	gint64 id = fst_db_begin_device(db, station, &info, "/dev/ttyUSB0", &error);

	g_assert_no_error(error);
	g_assert_true(fst_db_add_certificate(db, id, &cert, &error));
	g_assert_no_error(error);
	if (failure != NULL) {
		g_autoptr(GError) f = g_error_new_literal(FST_ERROR, code, failure);
		gint64 now = g_get_real_time();
		g_assert_true(fst_db_add_event(
		    db, id, step, now, now, fst_error_code_to_string(code), failure, &error));
		g_assert_no_error(error);
		g_assert_true(fst_db_finish_device(db, id, serial_hex, f, &error));
	} else {
		g_assert_true(fst_db_finish_device(db, id, serial_hex, NULL, &error));
	}
	g_assert_no_error(error);
}

static void
test_fixture_setup(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = NULL;
	gint64 station;

	fx->tmpdir = g_dir_make_tmp("fst-report-test-XXXXXX", &error);
	g_assert_no_error(error);
	fx->workspace = g_build_filename(fx->tmpdir, "ws", NULL);
	fx->db_path = g_build_filename(fx->workspace, "station.db", NULL);
	db = fst_db_open(fx->db_path, &error);
	g_assert_no_error(error);
	station = fst_db_ensure_station(db, "line-3", "host", "1", &error);
	g_assert_no_error(error);

	/* lot L-HOSTILE: device strings a spreadsheet or a parser could trip on */
	g_assert_true(fst_db_set_context(db, "@operator", "L-HOSTILE", &error));
	g_assert_no_error(error);
	test_device(
	    db, station, "SN,1 \"quoted\"", "=HYPERLINK(\"http://x\")", 0x101, NULL, 0, NULL);
	test_device(db,
	            station,
	            "Gerät-ü-日本",
	            "-2+3",
	            0x102,
	            "line one\nline two, \"two\"",
	            FST_ERROR_INVALID_DATA,
	            "identify");
	test_device(db, station, " padded ", "model", 0x103, NULL, 0, NULL);

	/* lot L-BIG: enough devices for several PDF pages, three classes of
	 * failure whose messages name the device, as real ones do */
	g_assert_true(fst_db_set_context(db, "Ana", "L-BIG", &error));
	g_assert_no_error(error);
	for (guint i = 0; i < 150; i++) {
		g_autofree gchar *uid = g_strdup_printf("BIG-%04u", i);
		g_autofree gchar *failure = NULL;
		FstError code = FST_ERROR_INTERNAL;
		const gchar *step = NULL;
		if (i % 10 == 3) {
			failure =
			    g_strdup_printf("reading back the certificate of %s: timed out", uid);
			code = FST_ERROR_TIMED_OUT;
			step = "verify";
		} else if (i % 25 == 7) {
			failure = g_strdup_printf("%s has no room for the trust roots", uid);
			code = FST_ERROR_STORAGE_FULL;
			step = "burn";
		} else if (i == 149) {
			failure = g_strdup_printf("%s: cancelled by the operator", uid);
			code = FST_ERROR_CANCELLED;
			step = "keygen";
		}
		test_device(db, station, uid, "sensor", 0x1000 + i, failure, code, step);
	}
}

static void
test_fixture_teardown(TestFixture *fx, gconstpointer user_data)
{
	test_rm_rf(fx->tmpdir);
	g_free(fx->tmpdir);
	g_free(fx->db_path);
	g_free(fx->workspace);
}

/* an independent RFC 4180 reader: rows of cells */
static GPtrArray *
test_csv_parse(const gchar *text)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
	GPtrArray *row = g_ptr_array_new_with_free_func(g_free);
	GString *cell = g_string_new(NULL);
	const gchar *p = text;

	while (*p != '\0') {
		if (*p == '"') {
			p++;
			for (;;) {
				g_assert_true(*p != '\0'); /* unterminated quote */
				if (*p == '"' && p[1] == '"') {
					g_string_append_c(cell, '"');
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					g_string_append_c(cell, *p++);
				}
			}
		}
		if (*p == ',') {
			g_ptr_array_add(row, g_string_free(cell, FALSE));
			cell = g_string_new(NULL);
			p++;
		} else if (*p == '\r' && p[1] == '\n') {
			g_ptr_array_add(row, g_string_free(cell, FALSE));
			cell = g_string_new(NULL);
			g_ptr_array_add(rows, row);
			row = g_ptr_array_new_with_free_func(g_free);
			p += 2;
		} else if (*p != '\0') {
			g_assert_true(*p != '"' && *p != '\n' && *p != '\r'); /* must be quoted */
			g_string_append_c(cell, *p++);
		}
	}
	g_assert_cmpuint(row->len, ==, 0); /* the last row ends with CRLF */
	g_ptr_array_unref(row);
	g_string_free(cell, TRUE);
	return rows;
}

static gchar *
test_export_csv(TestFixture *fx, const FstReportScope *scope, const gchar *name)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = g_build_filename(fx->tmpdir, name, NULL);
	gchar *text = NULL;
	FILE *f = g_fopen(path, "wb");

	g_assert_nonnull(f);
	g_assert_true(fst_report_write_csv(fx->db_path, scope, f, &error));
	g_assert_no_error(error);
	fclose(f);
	g_file_get_contents(path, &text, NULL, &error);
	g_assert_no_error(error);
	return text;
}

static const gchar *
test_cell(GPtrArray *rows, guint r, const gchar *column)
{
	GPtrArray *header = g_ptr_array_index(rows, 0);
	GPtrArray *row = g_ptr_array_index(rows, r);
	for (guint i = 0; i < header->len; i++) {
		if (g_strcmp0(g_ptr_array_index(header, i), column) == 0)
			return g_ptr_array_index(row, i);
	}
	g_assert_not_reached();
	return NULL;
}

static void
test_csv_hostile_strings(TestFixture *fx, gconstpointer user_data)
{
	FstReportScope scope = {.lot = "L-HOSTILE"};
	g_autofree gchar *text = test_export_csv(fx, &scope, "hostile.csv");
	g_autoptr(GPtrArray) rows = test_csv_parse(text);
	GPtrArray *header = g_ptr_array_index(rows, 0);

	g_assert_cmpuint(rows->len, ==, 4);
	g_assert_cmpuint(header->len, ==, FST_REPORT_N_COLUMNS);
	for (guint r = 0; r < rows->len; r++)
		g_assert_cmpuint(
		    ((GPtrArray *)g_ptr_array_index(rows, r))->len, ==, FST_REPORT_N_COLUMNS);

	/* commas, quotes, spaces and non-ASCII come back exactly */
	g_assert_cmpstr(test_cell(rows, 1, "device_uid"), ==, "SN,1 \"quoted\"");
	g_assert_cmpstr(test_cell(rows, 2, "device_uid"), ==, "Gerät-ü-日本");
	g_assert_cmpstr(test_cell(rows, 3, "device_uid"), ==, " padded ");
	g_assert_cmpstr(test_cell(rows, 2, "last_error"), ==, "line one\nline two, \"two\"");
	g_assert_cmpstr(test_cell(rows, 1, "subject"), ==, "CN=x, O=\"y\"");
	/* what would be a formula is text, whatever column it is in */
	g_assert_cmpstr(test_cell(rows, 1, "model"), ==, "'=HYPERLINK(\"http://x\")");
	g_assert_cmpstr(test_cell(rows, 2, "model"), ==, "'-2+3");
	g_assert_cmpstr(test_cell(rows, 1, "firmware"), ==, "'+1.0");
	g_assert_cmpstr(test_cell(rows, 1, "operator"), ==, "'@operator");
	g_assert_cmpstr(test_cell(rows, 1, "lot"), ==, "L-HOSTILE");
	g_assert_cmpstr(test_cell(rows, 1, "device_state"), ==, "provisioned");
	g_assert_cmpstr(test_cell(rows, 2, "device_state"), ==, "failed");
	/* a failed device's class, empty for the others */
	g_assert_cmpstr(test_cell(rows, 2, "error_code"), ==, "invalid-data");
	g_assert_cmpstr(test_cell(rows, 2, "failed_step"), ==, "identify");
	g_assert_cmpstr(test_cell(rows, 1, "error_code"), ==, "");
	g_assert_cmpstr(test_cell(rows, 1, "failed_step"), ==, "");
	g_assert_cmpstr(test_cell(rows, 1, "serial"), ==, "101");
	g_assert_cmpstr(test_cell(rows, 1, "cert_state"), ==, "verified");
	g_assert_true(g_regex_match_simple(
	    "^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-9:]{8}Z$", test_cell(rows, 1, "issued_at"), 0, 0));
	/* no raw formula start anywhere in the file */
	g_assert_null(strstr(text, ",="));
	g_assert_null(strstr(text, ",@"));
	g_assert_null(strstr(text, ",+"));
}

/* @counts (element-type FstReportCount) as "name n, name n" */
static void
test_assert_counts(GPtrArray *counts, const gchar *expected)
{
	g_autoptr(GString) text = g_string_new(NULL);
	for (guint i = 0; i < counts->len; i++) {
		const FstReportCount *count = g_ptr_array_index(counts, i);
		g_string_append_printf(text,
		                       "%s%s %" G_GINT64_FORMAT,
		                       i > 0 ? ", " : "",
		                       count->name != NULL ? count->name : "(null)",
		                       count->devices);
	}
	g_assert_cmpstr(text->str, ==, expected);
}

static void
test_csv_scopes(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	FstReportScope all = {0};
	FstReportScope station = {.station = "line-3", .lot = "L-BIG"};
	FstReportScope nobody = {.station = "line-9"};
	FstReportScope future = {.since_us = g_get_real_time() + (gint64)G_USEC_PER_SEC * 3600};
	g_autofree gchar *a = test_export_csv(fx, &all, "all.csv");
	g_autofree gchar *s = test_export_csv(fx, &station, "station.csv");
	g_autofree gchar *n = test_export_csv(fx, &nobody, "nobody.csv");
	g_autofree gchar *f = test_export_csv(fx, &future, "future.csv");
	g_autoptr(GPtrArray) ra = test_csv_parse(a);
	g_autoptr(GPtrArray) rs = test_csv_parse(s);
	g_autoptr(GPtrArray) rn = test_csv_parse(n);
	g_autoptr(GPtrArray) rf = test_csv_parse(f);
	g_autoptr(FstReportSummary) sum = NULL;
	FstReportFailure *first;
	FstReportFailure *second;
	FstReportFailure *third;

	g_assert_cmpuint(ra->len, ==, 1 + 153);
	g_assert_cmpuint(rs->len, ==, 1 + 150);
	g_assert_cmpuint(rn->len, ==, 1);
	g_assert_cmpuint(rf->len, ==, 1);

	sum = fst_report_summary(fx->db_path, &station, &error);
	g_assert_no_error(error);
	g_assert_cmpint(sum->devices, ==, 150);
	g_assert_cmpint(sum->failed, ==, 15 + 6 + 1);
	g_assert_cmpint(sum->provisioned, ==, 150 - 22);
	g_assert_cmpstr(sum->stations, ==, "line-3");
	/* one group per class (error code, step), not per message */
	g_assert_cmpuint(sum->failures->len, ==, 3);
	first = g_ptr_array_index(sum->failures, 0);
	g_assert_cmpstr(first->error_code, ==, "timed-out");
	g_assert_cmpstr(first->step, ==, "verify");
	g_assert_cmpint(first->devices, ==, 15);
	g_assert_true(g_str_has_prefix(first->reason, "reading back the certificate of BIG-"));
	g_assert_cmpuint(g_strv_length(first->example_devices), ==, 3);
	g_assert_cmpstr(first->example_devices[0], ==, "BIG-0003");
	g_assert_cmpstr(first->example_devices[2], ==, "BIG-0023");
	second = g_ptr_array_index(sum->failures, 1);
	g_assert_cmpstr(second->error_code, ==, "storage-full");
	g_assert_cmpstr(second->step, ==, "burn");
	g_assert_cmpint(second->devices, ==, 6);
	third = g_ptr_array_index(sum->failures, 2);
	g_assert_cmpstr(third->error_code, ==, "cancelled");
	g_assert_cmpstr(third->step, ==, "keygen");
	g_assert_cmpint(third->devices, ==, 1);
	g_assert_cmpstr(third->example_devices[0], ==, "BIG-0149");
	g_assert_nonnull(sum->database_id);
	g_assert_nonnull(sum->audit_head);

	/* the devices by operator and by lot, most first */
	g_clear_pointer(&sum, fst_report_summary_free);
	sum = fst_report_summary(fx->db_path, &all, &error);
	g_assert_no_error(error);
	test_assert_counts(sum->operators, "Ana 150, @operator 3");
	test_assert_counts(sum->lots, "L-BIG 150, L-HOSTILE 3");
	g_clear_pointer(&sum, fst_report_summary_free);
	sum = fst_report_summary(fx->db_path, &nobody, &error);
	g_assert_no_error(error);
	test_assert_counts(sum->operators, "");
	test_assert_counts(sum->lots, "");
}

static void
test_json(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autofree gchar *path = g_build_filename(fx->tmpdir, "r.json", NULL);
	FstReportScope scope = {.lot = "L-HOSTILE"};
	FILE *f = g_fopen(path, "wb");
	JsonObject *root;
	JsonObject *summary;
	JsonArray *devices;
	JsonArray *failures;
	JsonObject *failure;

	g_assert_true(fst_report_write_json(fx->db_path, &scope, f, &error));
	g_assert_no_error(error);
	fclose(f);
	g_assert_true(json_parser_load_from_file(parser, path, &error));
	g_assert_no_error(error);
	root = json_node_get_object(json_parser_get_root(parser));
	summary = json_object_get_object_member(root, "summary");
	devices = json_object_get_array_member(root, "devices");
	g_assert_cmpint(json_object_get_int_member(summary, "devices"), ==, 3);
	g_assert_cmpint(json_object_get_int_member(summary, "failed"), ==, 1);
	g_assert_cmpfloat_with_epsilon(
	    json_object_get_double_member(summary, "yield_percent"), 200.0 / 3, 0.01);
	g_assert_cmpuint(json_array_get_length(devices), ==, 3);
	/* JSON carries the strings as they are: no spreadsheet prefix */
	g_assert_cmpstr(
	    json_object_get_string_member(json_array_get_object_element(devices, 0), "model"),
	    ==,
	    "=HYPERLINK(\"http://x\")");
	g_assert_cmpstr(
	    json_object_get_string_member(json_array_get_object_element(devices, 1), "last_error"),
	    ==,
	    "line one\nline two, \"two\"");
	/* the failures by class: error code, step, count and examples */
	failures = json_object_get_array_member(summary, "failures");
	g_assert_cmpuint(json_array_get_length(failures), ==, 1);
	failure = json_array_get_object_element(failures, 0);
	g_assert_cmpstr(json_object_get_string_member(failure, "error_code"), ==, "invalid-data");
	g_assert_cmpstr(json_object_get_string_member(failure, "step"), ==, "identify");
	g_assert_cmpint(json_object_get_int_member(failure, "devices"), ==, 1);
	g_assert_cmpstr(
	    json_object_get_string_member(failure, "example"), ==, "line one\nline two, \"two\"");
	g_assert_cmpstr(json_array_get_string_element(
	                    json_object_get_array_member(failure, "example_devices"), 0),
	                ==,
	                "Gerät-ü-日本");
	/* the devices by operator and by lot */
	for (guint i = 0; i < 2; i++) {
		JsonArray *counts =
		    json_object_get_array_member(summary, i == 0 ? "operators" : "lots");
		JsonObject *count;
		g_assert_cmpuint(json_array_get_length(counts), ==, 1);
		count = json_array_get_object_element(counts, 0);
		g_assert_cmpstr(json_object_get_string_member(count, "name"),
		                ==,
		                i == 0 ? "@operator" : "L-HOSTILE");
		g_assert_cmpint(json_object_get_int_member(count, "devices"), ==, 3);
	}
}

static guint
test_count(const gchar *haystack, gsize len, const gchar *needle)
{
	guint n = 0;
	gsize nlen = strlen(needle);
	for (gsize i = 0; i + nlen <= len; i++) {
		if (memcmp(haystack + i, needle, nlen) == 0)
			n++;
	}
	return n;
}

static void
test_pdf(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = g_build_filename(fx->tmpdir, "r.pdf", NULL);
	g_autofree gchar *png = g_build_filename(fx->tmpdir, "page", NULL);
	g_autofree gchar *pdftoppm = g_find_program_in_path("pdftoppm");
	g_autofree gchar *data = NULL;
	gsize len = 0;

	g_assert_true(
	    fst_report_export_file(fx->db_path, NULL, "pdf", FST_REPORT_PAPER_A4, path, &error));
	g_assert_no_error(error);
	g_file_get_contents(path, &data, &len, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(data, "%PDF-"));
	/* 153 rows: the first page holds the summary and some rows, then the rest */
	g_assert_cmpuint(test_count(data, len, "/Type /Page %"), ==, 3);
	g_assert_cmpuint(test_count(data, len, "/Count 3\n"), ==, 1);

	if (pdftoppm == NULL) {
		fst_test_skip_missing("pdftoppm (poppler-utils) is not installed: the PDF pages "
		                      "are not rendered");
		return;
	}
	{
		g_autofree gchar *first = g_strdup_printf("%s-1.png", png);
		g_autofree gchar *out = NULL;
		gint status = 0;
		g_autoptr(GStrvBuilder) sb = g_strv_builder_new();
		g_auto(GStrv) full = NULL;
		g_strv_builder_add_many(sb, "pdftoppm", "-png", "-r", "60", NULL);
		g_strv_builder_add(sb, path);
		g_strv_builder_add(sb, png);
		full = g_strv_builder_end(sb);
		g_spawn_sync(NULL,
		             full,
		             NULL,
		             G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
		             NULL,
		             NULL,
		             NULL,
		             &out,
		             &status,
		             &error);
		g_assert_no_error(error);
		g_assert_cmpint(status, ==, 0);
		g_assert_true(g_file_test(first, G_FILE_TEST_IS_REGULAR));
		if (g_getenv("FST_REPORT_KEEP_PDF") != NULL) {
			g_autofree gchar *keep =
			    g_build_filename(g_get_tmp_dir(), "fst-report.pdf", NULL);
			g_autofree gchar *copy = g_strdup_printf("cp %s %s", path, keep);
			g_spawn_command_line_sync(copy, NULL, NULL, NULL, NULL);
			g_test_message("kept %s", keep);
		}
	}
}

static void
test_sign_verify(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *key = g_build_filename(fx->workspace, FST_REPORT_KEY_FILE, NULL);
	g_autofree gchar *cert = g_build_filename(fx->workspace, FST_REPORT_CERT_FILE, NULL);
	g_autofree gchar *other_ws = g_build_filename(fx->tmpdir, "other", NULL);
	g_autofree gchar *other_cert = g_build_filename(other_ws, FST_REPORT_CERT_FILE, NULL);
	g_autofree gchar *csv = g_build_filename(fx->tmpdir, "signed.csv", NULL);
	g_autofree gchar *sig = g_build_filename(fx->tmpdir, "signed.csv.sig", NULL);
	g_autofree gchar *sig2 = g_build_filename(fx->tmpdir, "other.sig", NULL);
	g_autofree gchar *sig3 = g_build_filename(fx->tmpdir, "locked.sig", NULL);
	g_autofree gchar *text = NULL;
	g_autofree gchar *key_before = NULL;
	g_autofree gchar *key_after = NULL;
	gsize len = 0;
	GStatBuf st;
	FILE *f;

	g_autoptr(FstSecret) pass = fst_secret_new((const guint8 *)"report pass", 11);

	/* the key opens with the CA passphrase, which signing takes from the environment */
	g_setenv("FLEETSTATION_CA_PASSPHRASE", "report pass", TRUE);
	g_assert_true(fst_report_ensure_key(fx->workspace, "line-3", pass, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_stat(key, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	/* a second call keeps the key */
	g_file_get_contents(key, &key_before, NULL, NULL);
	g_assert_true(g_str_has_prefix(key_before, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
	g_assert_true(fst_report_ensure_key(fx->workspace, "line-3", pass, &error));
	g_file_get_contents(key, &key_after, NULL, NULL);
	g_assert_cmpstr(key_before, ==, key_after);

	f = g_fopen(csv, "wb");
	g_assert_true(fst_report_write_csv(fx->db_path, NULL, f, &error));
	fclose(f);
	g_assert_true(fst_report_sign(fx->workspace, csv, sig, &error));
	g_assert_no_error(error);
	g_assert_true(fst_report_verify(cert, csv, sig, &error));
	g_assert_no_error(error);
	/* never overwritten */
	g_assert_false(fst_report_sign(fx->workspace, csv, sig, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);

	/* one byte changed, anywhere */
	g_file_get_contents(csv, &text, &len, &error);
	for (gsize at = 0; at < len; at += len / 3) {
		g_autofree gchar *copy = g_memdup2(text, len);
		copy[at] ^= 0x01;
		g_assert_true(g_file_set_contents(csv, copy, (gssize)len, NULL));
		g_assert_false(fst_report_verify(cert, csv, sig, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
		g_clear_error(&error);
	}
	g_assert_true(g_file_set_contents(csv, text, (gssize)len, NULL));
	g_assert_true(fst_report_verify(cert, csv, sig, &error));

	/* another station's key is not this station's */
	g_assert_cmpint(g_mkdir_with_parents(other_ws, 0700), ==, 0);
	g_assert_true(fst_report_ensure_key(other_ws, "line-9", pass, &error));
	g_assert_true(fst_report_sign(other_ws, csv, sig2, &error));
	g_assert_no_error(error);
	g_assert_true(fst_report_verify(other_cert, csv, sig2, &error));
	g_assert_false(fst_report_verify(cert, csv, sig2, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_clear_error(&error);

	/* without the passphrase nothing is signed */
	g_unsetenv("FLEETSTATION_CA_PASSPHRASE");
	g_assert_false(fst_report_sign(fx->workspace, csv, sig3, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
}

/* the report certificate says what it is and is no CA */
static void
test_sign_cert(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstSecret) pass = fst_secret_new((const guint8 *)"report pass", 11);
	g_autofree gchar *cert_path = g_build_filename(fx->workspace, FST_REPORT_CERT_FILE, NULL);
	g_autofree gchar *pem = NULL;
	g_autoptr(BIO) bio = NULL;
	g_autoptr(X509) cert = NULL;
	gchar cn[256] = {0};

	g_assert_true(fst_report_ensure_key(fx->workspace, "line-3", pass, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(cert_path, &pem, NULL, NULL));
	bio = BIO_new_mem_buf(pem, -1);
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	g_assert_nonnull(cert);
	g_assert_cmpint(X509_check_ca(cert), ==, 0);
	g_assert_true((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) != 0);
	g_assert_cmpuint(X509_get_key_usage(cert), ==, KU_DIGITAL_SIGNATURE);
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
	g_assert_cmpstr(cn, ==, "fleetstation report signer line-3 (self-signed)");
}

/* a clear report key left by an older version is encrypted in place, the same key */
static void
test_sign_migrate(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstSecret) pass = fst_secret_new((const guint8 *)"report pass", 11);
	g_autofree gchar *key_path = g_build_filename(fx->workspace, FST_REPORT_KEY_FILE, NULL);
	g_autoptr(EVP_PKEY) clear = EVP_EC_gen("P-256");
	g_autoptr(EVP_PKEY) after = NULL;
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	g_autofree gchar *text = NULL;
	gchar passphrase[] = "report pass";
	BUF_MEM *mem = NULL;

	g_assert_cmpint(PEM_write_bio_PrivateKey(bio, clear, NULL, NULL, 0, NULL, NULL), ==, 1);
	BIO_get_mem_ptr(bio, &mem);
	g_assert_true(g_file_set_contents(key_path, mem->data, (gssize)mem->length, NULL));
	g_assert_true(fst_report_ensure_key(fx->workspace, "line-3", pass, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_get_contents(key_path, &text, NULL, NULL));
	g_assert_true(g_str_has_prefix(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
	g_clear_pointer(&bio, BIO_free);
	bio = BIO_new_mem_buf(text, -1);
	after = PEM_read_bio_PrivateKey(bio, NULL, NULL, passphrase);
	g_assert_nonnull(after);
	g_assert_cmpint(EVP_PKEY_eq(clear, after), ==, 1);
}

/* the bounds of a report's time range, as the CLI and the GUI read them */
static void
test_parse_time(void)
{
	g_autoptr(GError) error = NULL;
	gint64 us = 42;

	g_assert_true(fst_report_parse_time(NULL, &us, &error));
	g_assert_true(fst_report_parse_time("", &us, &error));
	g_assert_cmpint(us, ==, 42);
	g_assert_true(fst_report_parse_time("2026-11-23", &us, &error));
	g_assert_no_error(error);
	g_assert_cmpint(us, ==, G_GINT64_CONSTANT(1795392000) * G_USEC_PER_SEC);
	g_assert_true(fst_report_parse_time("2026-11-23T08:00:00Z", &us, &error));
	g_assert_cmpint(us, ==, G_GINT64_CONSTANT(1795420800) * G_USEC_PER_SEC);
	g_assert_true(fst_report_parse_time("2026-11-23T10:00:00+02:00", &us, &error));
	g_assert_cmpint(us, ==, G_GINT64_CONSTANT(1795420800) * G_USEC_PER_SEC);
	g_assert_false(fst_report_parse_time("23.11.2026", &us, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "23.11.2026 is not a date"));
}

/* the PDF's summary groups the failures by class, as its text says */
static void
test_pdf_failure_classes(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = g_build_filename(fx->tmpdir, "big.pdf", NULL);
	g_autofree gchar *pdftotext = g_find_program_in_path("pdftotext");
	g_autofree gchar *text = NULL;
	g_autoptr(GStrvBuilder) sb = g_strv_builder_new();
	g_auto(GStrv) argv = NULL;
	FstReportScope scope = {.lot = "L-BIG"};
	gint status = 0;

	g_assert_true(
	    fst_report_export_file(fx->db_path, &scope, "pdf", FST_REPORT_PAPER_A4, path, &error));
	g_assert_no_error(error);
	if (pdftotext == NULL) {
		fst_test_skip_missing("pdftotext (poppler-utils) is not installed: the PDF text "
		                      "is not read");
		return;
	}
	g_strv_builder_add_many(sb, "pdftotext", "-layout", "-f", "1", "-l", "1", path, "-", NULL);
	argv = g_strv_builder_end(sb);
	g_spawn_sync(NULL,
	             argv,
	             NULL,
	             G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
	             NULL,
	             NULL,
	             &text,
	             NULL,
	             &status,
	             &error);
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
	g_assert_nonnull(strstr(text, "Failures by class"));
	g_assert_true(g_regex_match_simple(
	    "15 +timed-out at verify +e\\.g\\. BIG-0003, BIG-0013, BIG-0023", text, 0, 0));
	g_assert_true(g_regex_match_simple("6 +storage-full at burn", text, 0, 0));
	g_assert_true(
	    g_regex_match_simple("1 +cancelled at keygen +e\\.g\\. BIG-0149", text, 0, 0));
	/* who did the work: the devices by operator and by lot */
	g_assert_nonnull(strstr(text, "Operators (devices): Ana (150)\n"));
	g_assert_nonnull(strstr(text, "Lots (devices): L-BIG (150)\n"));
}

static gint
test_compare_names(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* the names in @dir, sorted, as one string */
static gchar *
test_dir_names(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *name;

	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL)
		g_ptr_array_add(names, g_strdup(name));
	g_ptr_array_sort(names, test_compare_names);
	g_ptr_array_add(names, NULL);
	return g_strjoinv(" ", (gchar **)names->pdata);
}

/* a report file is whole or absent: written whole, never over a file or
 * through a link, and nothing under its name (nor a temporary file) when
 * the writing fails; the failure is a real one, the kernel's file size
 * limit (EFBIG), in a child process */
static void
test_export_file(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = g_build_filename(fx->tmpdir, "out", NULL);
	g_autofree gchar *path = g_build_filename(dir, "r.csv", NULL);
	g_autofree gchar *other = g_build_filename(dir, "other", NULL);
	g_autofree gchar *link = g_build_filename(dir, "link.csv", NULL);
	g_autofree gchar *text = NULL;
	g_autofree gchar *names = NULL;
	g_autofree gchar *want = test_export_csv(fx, NULL, "want.csv");
	GStatBuf st;

	g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
	if (g_test_subprocess()) {
		/* the database's WAL index (32 KiB) is made first, by a connection
		 * held open: the limit then stops only the report */
		struct rlimit limit = {.rlim_cur = 40000, .rlim_max = 40000};
		g_autoptr(FstDb) db = fst_db_open(fx->db_path, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(strlen(want), >, limit.rlim_cur);
		signal(SIGXFSZ, SIG_IGN);
		g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &limit), ==, 0);
		g_assert_false(fst_report_export_file(
		    fx->db_path, NULL, "csv", FST_REPORT_PAPER_A4, path, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_INTERNAL);
		g_assert_nonnull(strstr(error->message, path));
		g_assert_nonnull(strstr(error->message, "free space"));
		names = test_dir_names(dir);
		g_assert_cmpstr(names, ==, "");
		return;
	}
	g_test_trap_subprocess("/fst/report/export-file/whole-or-absent", 0, 0);
	g_test_trap_assert_passed();

	/* whole, 0644, and no temporary file left */
	g_assert_true(
	    fst_report_export_file(fx->db_path, NULL, "csv", FST_REPORT_PAPER_A4, path, &error));
	g_assert_no_error(error);
	g_file_get_contents(path, &text, NULL, &error);
	g_assert_cmpstr(text, ==, want);
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0644);
	names = test_dir_names(dir);
	g_assert_cmpstr(names, ==, "r.csv");
	/* never over a file, nor through a link */
	g_assert_false(
	    fst_report_export_file(fx->db_path, NULL, "json", FST_REPORT_PAPER_A4, path, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);
	g_clear_pointer(&text, g_free);
	g_file_get_contents(path, &text, NULL, &error);
	g_assert_cmpstr(text, ==, want);
	g_assert_cmpint(symlink(other, link), ==, 0);
	g_assert_false(
	    fst_report_export_file(fx->db_path, NULL, "csv", FST_REPORT_PAPER_A4, link, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_false(g_file_test(other, G_FILE_TEST_EXISTS));
	g_clear_pointer(&names, g_free);
	names = test_dir_names(dir);
	g_assert_cmpstr(names, ==, "link.csv r.csv");
}

/* a signed report is written with its signature or not at all: when the
 * signature cannot be written (the kernel's file size limit lets the report
 * through but not its signature, in a child process), the report is
 * removed; without the limit both are written and the signature verifies */
static void
test_export_signed(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstSecret) pass = fst_secret_new((const guint8 *)"report pass", 11);
	g_autofree gchar *dir = g_build_filename(fx->tmpdir, "out", NULL);
	g_autofree gchar *path = g_build_filename(dir, "r.csv", NULL);
	g_autofree gchar *sig = g_build_filename(dir, "r.csv.sig", NULL);
	g_autofree gchar *cert = g_build_filename(fx->workspace, FST_REPORT_CERT_FILE, NULL);
	g_autofree gchar *names = NULL;
	/* no device in the range: the report is its header, its signature larger */
	FstReportScope scope = {.since_us = G_GINT64_CONSTANT(4102444800000000)};
	GStatBuf report_st;
	GStatBuf sig_st;

	g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
	g_setenv("FLEETSTATION_CA_PASSPHRASE", "report pass", TRUE);
	g_assert_true(fst_report_ensure_key(fx->workspace, "line-3", pass, &error));
	g_assert_no_error(error);
	if (g_test_subprocess()) {
		struct rlimit limit;
		g_autoptr(FstDb) db = fst_db_open(fx->db_path, &error);
		g_assert_no_error(error);
		/* the sizes, from a first export; the limit falls between them */
		g_assert_true(fst_report_export_signed(fx->workspace,
		                                       NULL,
		                                       fx->db_path,
		                                       &scope,
		                                       "csv",
		                                       FST_REPORT_PAPER_A4,
		                                       path,
		                                       &error));
		g_assert_no_error(error);
		g_assert_cmpint(g_stat(path, &report_st), ==, 0);
		g_assert_cmpint(g_stat(sig, &sig_st), ==, 0);
		g_assert_cmpint(report_st.st_size + 100, <, sig_st.st_size);
		g_unlink(path);
		g_unlink(sig);
		limit.rlim_cur = limit.rlim_max = (rlim_t)(report_st.st_size + 50);
		signal(SIGXFSZ, SIG_IGN);
		g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &limit), ==, 0);
		g_assert_false(fst_report_export_signed(fx->workspace,
		                                        NULL,
		                                        fx->db_path,
		                                        &scope,
		                                        "csv",
		                                        FST_REPORT_PAPER_A4,
		                                        path,
		                                        &error));
		g_assert_nonnull(error);
		g_assert_nonnull(strstr(error->message, "was not kept"));
		names = test_dir_names(dir);
		g_assert_cmpstr(names, ==, "");
		return;
	}
	g_test_trap_subprocess("/fst/report/export-signed/both-or-neither", 0, 0);
	g_test_trap_assert_passed();

	g_assert_true(fst_report_export_signed(
	    fx->workspace, NULL, fx->db_path, &scope, "csv", FST_REPORT_PAPER_A4, path, &error));
	g_assert_no_error(error);
	names = test_dir_names(dir);
	g_assert_cmpstr(names, ==, "r.csv r.csv.sig");
	g_assert_true(fst_report_verify(cert, path, sig, &error));
	g_assert_no_error(error);
	g_unsetenv("FLEETSTATION_CA_PASSPHRASE");
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
	g_test_add_func("/fst/report/parse-time", test_parse_time);
	test_add("/fst/report/csv/hostile-strings", test_csv_hostile_strings);
	test_add("/fst/report/csv/scopes-and-summary", test_csv_scopes);
	test_add("/fst/report/json/parses", test_json);
	test_add("/fst/report/pdf/pages", test_pdf);
	test_add("/fst/report/pdf/failures-by-class", test_pdf_failure_classes);
	test_add("/fst/report/export-file/whole-or-absent", test_export_file);
	test_add("/fst/report/export-signed/both-or-neither", test_export_signed);
	test_add("/fst/report/sign/changed-byte-fails", test_sign_verify);
	test_add("/fst/report/sign/certificate-says-what-it-is", test_sign_cert);
	test_add("/fst/report/sign/clear-key-encrypted-in-place", test_sign_migrate);
	rc = fst_test_run_skippable();
	EVP_PKEY_free(test_key);
	/* cairo's and fontconfig's caches, so that a leak checker sees only ours */
	cairo_debug_reset_static_data();
	FcFini();
	return rc;
}
