/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstBenchAws"

#include <glib/gstdio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "fst-aws-iot.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-registration.h"
#include "fst-test-pki.h"

/*
 * AWS IoT registration benchmark against the local peer (moto behind
 * tests/integration/fst-aws-peer.py; skipped, 77, without moto):
 *  - registrations a second with the request rate unlimited, and the
 *    station's CPU per registration (the peer's CPU is not counted);
 *  - the line's recording rate (device, certificate queued, finished) with
 *    the worker draining the queue in the background, against the rate
 *    without it.
 * FST_BENCH_AWS_N sets the number of certificates (default 300).
 */

static EVP_PKEY *bench_key = NULL;
static guint bench_serial = 0x10000;

static GBytes *
bench_make_cert(void)
{
	g_autoptr(EVP_PKEY) device_key = EVP_EC_gen("P-256");
	g_autoptr(X509) x = X509_new();
	X509_NAME *name = X509_NAME_new();
	guint8 *der = NULL;
	gint len;
	GBytes *bytes;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)bench_serial++);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const guchar *)"bench", -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, name);
	X509_NAME_free(name);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	/* a key per device: the database refuses one device's key for another */
	X509_set_pubkey(x, device_key);
	X509_sign(x, bench_key, EVP_sha256());
	len = i2d_X509(x, &der);
	bytes = g_bytes_new(der, len);
	OPENSSL_free(der);
	return bytes;
}

/* one device as the line records it: started, certificate (queued), finished */
static void
bench_record(FstDb *db, guint i, GBytes *der)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *uid = g_strdup_printf("BENCH-%06u-%u", i, bench_serial);
	g_autoptr(X509) x = NULL;
	const guint8 *p;
	gsize len = 0;
	g_autofree gchar *serial = NULL;
	FstDeviceInfo info = {.uid = uid, .model = (gchar *)(guintptr) "bench"};
	FstDbCert cert = {.der = der,
	                  .key_type = (gchar *)(guintptr) "ec-p256",
	                  .not_after = G_MAXINT32,
	                  .register_target = (gchar *)(guintptr) "aws-iot:us-east-1"};
	gint64 device_id;

	p = g_bytes_get_data(der, &len);
	x = d2i_X509(NULL, &p, (glong)len);
	{
		g_autoptr(BIGNUM) bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		gchar *hex = BN_bn2hex(bn);
		serial = g_strdup(hex);
		OPENSSL_free(hex);
	}
	cert.serial_hex = serial;
	device_id = fst_db_begin_device(db, 0, &info, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(fst_db_add_certificate(db, device_id, &cert, &error));
	g_assert_no_error(error);
	g_assert_true(fst_db_finish_device(db, device_id, serial, NULL, &error));
	g_assert_no_error(error);
}

static gdouble
bench_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static GPid peer_pid = 0;

static gchar *
bench_start_peer(void)
{
	const gchar *python = g_getenv("FST_MOTO_PYTHON");
	g_autofree gchar *dir = g_dir_make_tmp("fst-bench-peer-XXXXXX", NULL);
	g_autofree gchar *port_file = g_build_filename(dir, "port", NULL);
	g_autofree gchar *port = NULL;
	gchar *argv[] = {(gchar *)(guintptr)(python != NULL ? python : "python3"),
	                 (gchar *)(guintptr)FST_AWS_PEER,
	                 port_file,
	                 NULL};

	if (!g_spawn_async(NULL,
	                   argv,
	                   NULL,
	                   G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
	                       G_SPAWN_STDOUT_TO_DEV_NULL,
	                   NULL,
	                   NULL,
	                   &peer_pid,
	                   NULL))
		return NULL;
	for (guint i = 0; i < 600; i++) {
		gint status = 0;
		if (g_file_get_contents(port_file, &port, NULL, NULL))
			break;
		if (waitpid(peer_pid, &status, WNOHANG) == peer_pid)
			return NULL;
		g_usleep(100000);
	}
	g_unlink(port_file);
	g_rmdir(dir);
	return port != NULL ? g_strdup_printf("http://127.0.0.1:%s", port) : NULL;
}

int
main(void)
{
	g_autoptr(EVP_PKEY_CTX) kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	g_autofree gchar *url = bench_start_peer();
	g_autofree gchar *dir = g_dir_make_tmp("fst-bench-aws-XXXXXX", NULL);
	g_autofree gchar *db_path = g_build_filename(dir, "station.db", NULL);
	g_autoptr(FstAwsCredentials) creds = NULL;
	g_autoptr(FstAwsIot) iot = NULL;
	g_autoptr(FstAwsIot) iot_bg = NULL;
	g_autoptr(FstRegistration) worker = NULL;
	g_autoptr(FstRegistration) worker_bg = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) ders = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	FstRegistrationConfig config = {.policy_name = "bench",
	                                .policy_document =
	                                    "{\"Version\":\"2012-10-17\",\"Statement\":[]}",
	                                .poll_us = 50000};
	FstRegistrationStats stats = {0};
	const gchar *n_env = g_getenv("FST_BENCH_AWS_N");
	guint n = n_env != NULL ? (guint)g_ascii_strtoull(n_env, NULL, 10) : 300;
	gint64 t0, t1;
	gdouble cpu0, cpu1, line_without, line_with;

	if (url == NULL) {
		g_printerr("the AWS peer (moto) did not start: moto is not installed in this "
		           "Python (not in Debian); set FST_MOTO_PYTHON: skipping\n");
		return 77;
	}
	EVP_PKEY_keygen_init(kctx);
	EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kctx, NID_X9_62_prime256v1);
	EVP_PKEY_keygen(kctx, &bench_key);
	creds = fst_aws_credentials_new("AKIDEXAMPLE", "bench-secret", NULL, "us-east-1", url);
	iot = fst_aws_iot_new(creds, &error);
	g_assert_no_error(error);
	iot_bg = fst_aws_iot_new(creds, &error);
	g_assert_no_error(error);
	db = fst_db_open(db_path, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < 3 * n; i++)
		g_ptr_array_add(ders, bench_make_cert());

	/* 1. the line alone: n devices recorded, each queued */
	t0 = g_get_monotonic_time();
	for (guint i = 0; i < n; i++)
		bench_record(db, i, g_ptr_array_index(ders, i));
	t1 = g_get_monotonic_time();
	line_without = n / ((t1 - t0) / 1e6);

	/* 2. registrations, rate unlimited, on this thread */
	worker = fst_registration_new(db_path, iot, &config, &error);
	g_assert_no_error(error);
	cpu0 = bench_cpu_s();
	t0 = g_get_monotonic_time();
	g_assert_true(fst_registration_push(worker, NULL, &error));
	g_assert_no_error(error);
	t1 = g_get_monotonic_time();
	cpu1 = bench_cpu_s();
	fst_registration_get_stats(worker, &stats);
	g_assert_cmpuint(stats.registered, ==, n);
	printf("registration: %u certificates (register, thing, principal, policy) in %.2f s: "
	       "%.1f registrations/s, %u AWS requests; station CPU %.2f ms per registration\n",
	       n,
	       (t1 - t0) / 1e6,
	       n / ((t1 - t0) / 1e6),
	       fst_aws_iot_get_request_count(iot),
	       (cpu1 - cpu0) * 1000.0 / n);

	/* 3. the line with the worker draining behind it */
	worker_bg = fst_registration_new(db_path, iot_bg, &config, &error);
	g_assert_no_error(error);
	g_assert_true(fst_registration_start(worker_bg, &error));
	t0 = g_get_monotonic_time();
	for (guint i = 0; i < n; i++)
		bench_record(db, n + i, g_ptr_array_index(ders, n + i));
	t1 = g_get_monotonic_time();
	line_with = n / ((t1 - t0) / 1e6);
	fst_registration_stop(worker_bg);
	fst_registration_get_stats(worker_bg, &stats);
	/* the line alone again, to see the machine's drift */
	{
		gint64 t2 = g_get_monotonic_time();
		gdouble again;
		for (guint i = 0; i < n; i++)
			bench_record(db, 2 * n + i, g_ptr_array_index(ders, 2 * n + i));
		again = n / ((g_get_monotonic_time() - t2) / 1e6);
		printf("line: %.1f devices/s without the worker, %.1f with it (%u registered "
		       "meanwhile), "
		       "%.1f without it again: with/without %.1f%% (limit: within 5%%)\n",
		       line_without,
		       line_with,
		       stats.registered,
		       again,
		       100.0 * line_with / ((line_without + again) / 2));
	}
	kill(peer_pid, SIGTERM);
	waitpid(peer_pid, NULL, 0);
	g_clear_pointer(&db, fst_db_close);
	g_clear_object(&worker);
	g_clear_object(&worker_bg);
	fst_test_pki_rmrf(dir);
	EVP_PKEY_free(bench_key);
	return 0;
}
