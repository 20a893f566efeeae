/* SPDX-License-Identifier: Apache-2.0 */
#define G_LOG_DOMAIN "FstAwsJobTest"

/*
 * A provisioning job whose profile registers its certificates with AWS IoT,
 * against the local AWS peer (moto behind tests/integration/fst-aws-peer.py):
 * simulated devices on ptys, the engine's FstJob, a real SQLite file. With the
 * peer up the job's own worker registers every certificate; with it down the
 * line still provisions and the rows wait for `register push`. moto is not in
 * Debian: without it the test skips (77).
 */

#include <curl/curl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <openssl/pem.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>

#include "fst-aws-credentials.h"
#include "fst-aws-iot.h"
#include "fst-aws-issuer.h"
#include "fst-ca.h"
#include "fst-crypto.h"
#include "fst-error.h"
#include "fst-db.h"
#include "fst-job.h"
#include "fst-station.h"
#include "fst-openssl-common.h"
#include "fst-test-pki.h"
#include "fst-x509.h"

#define TEST_N_DEVICES 3

static gchar *peer_url = NULL;
static GPid peer_pid = 0;

static size_t
test_curl_write(gchar *ptr, size_t size, size_t nmemb, void *data)
{
	g_string_append_len((GString *)data, ptr, (gssize)(size * nmemb));
	return size * nmemb;
}

static JsonObject *
test_peer_stats(void)
{
	CURL *curl = curl_easy_init();
	g_autofree gchar *url = g_strdup_printf("%s/__peer/stats", peer_url);
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, test_curl_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
	g_assert_cmpint(curl_easy_perform(curl), ==, CURLE_OK);
	curl_easy_cleanup(curl);
	g_assert_true(json_parser_load_from_data(parser, out->str, -1, &error));
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

static gchar *
test_sql_text(const gchar *path, const gchar *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	gchar *value;
	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	value = g_strdup((const gchar *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return value;
}

static gint64
test_sql_int(const gchar *path, const gchar *sql)
{
	g_autofree gchar *text = test_sql_text(path, sql);
	return g_ascii_strtoll(text, NULL, 10);
}

/* sets the peer's faults (fst-aws-peer.py), a JSON object */
static void
test_peer_faults(const gchar *json)
{
	CURL *curl = curl_easy_init();
	g_autofree gchar *url = g_strdup_printf("%s/__peer/faults", peer_url);
	g_autoptr(GString) out = g_string_new(NULL);
	glong status = 0;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, test_curl_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
	g_assert_cmpint(curl_easy_perform(curl), ==, CURLE_OK);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	g_assert_cmpint(status, ==, 200);
}

/* a client of the peer, for what a test asks AWS itself */
static FstAwsIot *
test_peer_iot(void)
{
	g_autoptr(FstAwsCredentials) creds =
	    fst_aws_credentials_new("AKIDEXAMPLE", "testing-secret", NULL, "us-east-1", peer_url);
	g_autoptr(GError) error = NULL;
	FstAwsIot *iot = fst_aws_iot_new(creds, &error);

	g_assert_no_error(error);
	return iot;
}

/* AWS credentials in the environment, as the AWS CLI reads them */
static void
test_aws_env(const gchar *endpoint)
{
	g_setenv("AWS_ENDPOINT_URL", endpoint, TRUE);
	g_setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", TRUE);
	g_setenv("AWS_SECRET_ACCESS_KEY", "testing-secret", TRUE);
	g_setenv("AWS_CONFIG_FILE", "/nonexistent", TRUE);
	g_setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", TRUE);
	g_unsetenv("AWS_PROFILE");
	g_unsetenv("AWS_ENDPOINT_URL_IOT");
}

typedef struct {
	gchar *workspace;
	gchar *db_path;
	gchar *profile; /* a registering profile's path */
	gchar *policy_file;
	GPtrArray *sims; /* (element-type GSubprocess) */
	gchar *ports[TEST_N_DEVICES + 1];
	gchar *uids[TEST_N_DEVICES];
	GMainContext *context;
	GAsyncResult *done;
} TestFixture;

/* what a test's devices and profile are */
typedef struct {
	const gchar *tag;
	const gchar *key_source; /* [profile] key-source */
	const gchar *key_type;   /* the profile's and the devices' one key type */
	const gchar *issuer;     /* [profile] issuer */
	gboolean injection_only; /* the devices take a key, and make none */
	const gchar *thing_name; /* (nullable): `register push --thing-name` */
	gboolean no_register;    /* [aws] register=false */
	gboolean one_key;        /* every device makes the same key (a faulty generator) */
	gboolean with_ca;        /* [aws] with-ca=true: RegisterCertificate with its CA */
} TestCase;

static const TestCase test_case_up = {"up", "device-csr", "ec-p256", "station", FALSE};
static const TestCase test_case_down = {"down", "device-csr", "ec-p256", "station", FALSE};
static const TestCase test_case_override = {
    "ovr", "device-csr", "ec-p256", "station", FALSE, "ovr5-{uid}"};
static const TestCase test_case_revoke = {"rev", "device-csr", "ec-p256", "station", FALSE};
static const TestCase test_case_renewed = {
    "renew", "device-csr", "ec-p256", "station", FALSE, NULL, FALSE, FALSE, TRUE};
static const TestCase test_case_reconcile = {"rcn", "device-csr", "ec-p256", "station", FALSE};
static const TestCase test_case_aws_csr = {"awscsr", "device-csr", "ec-p256", "aws", FALSE};
static const TestCase test_case_aws_key = {
    "awskey", "station-generated", "rsa-2048", "aws", TRUE, NULL, TRUE};
static const TestCase test_case_aws_off = {"awsoff", "device-csr", "ec-p256", "aws", FALSE};
static const TestCase test_case_aws_act = {
    "awsact", "device-csr", "ec-p256", "aws", FALSE, NULL, TRUE};
static const TestCase test_case_aws_lost_csr = {
    "lostcsr", "device-csr", "ec-p256", "aws", FALSE, NULL, TRUE};
static const TestCase test_case_aws_dup = {
    "dup", "device-csr", "ec-p256", "aws", FALSE, NULL, TRUE};
static const TestCase test_case_aws_lost_key = {
    "lostkey", "station-generated", "rsa-2048", "aws", TRUE, NULL, TRUE};
static const TestCase test_case_aws_one_key = {
    "onekey", "device-csr", "ec-p256", "aws", FALSE, NULL, TRUE, TRUE};
static const TestCase test_case_aws_one_key_kept = {
    "onekeykept", "device-csr", "ec-p256", "aws", FALSE, NULL, TRUE, TRUE};

static gchar *
test_start_sim(TestFixture *fx, const TestCase *tc, const gchar *uid)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GDataInputStream) in = NULL;
	g_autofree gchar *storage = g_strdup_printf("%s/%s.bin", fx->workspace, uid);
	g_autofree gchar *key = g_build_filename(fx->workspace, "one-key.pem", NULL);
	g_autofree gchar *line = NULL;
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	GSubprocess *p;

	g_ptr_array_add(argv, g_strdup(g_getenv("FST_DEVSIM")));
	g_ptr_array_add(argv, g_strdup("--uid"));
	g_ptr_array_add(argv, g_strdup(uid));
	g_ptr_array_add(argv, g_strdup("--storage"));
	g_ptr_array_add(argv, g_strdup(storage));
	g_ptr_array_add(argv, g_strdup("--key-types"));
	g_ptr_array_add(argv, g_strdup(tc->key_type));
	g_ptr_array_add(argv, g_strdup("--validation"));
	g_ptr_array_add(argv, g_strdup("ecdsa-p256"));
	if (tc->injection_only)
		g_ptr_array_add(argv, g_strdup("--key-injection-only"));
	if (tc->one_key) {
		g_ptr_array_add(argv, g_strdup("--fault-fixed-key"));
		g_ptr_array_add(argv, g_strdup(key));
	}
	g_ptr_array_add(argv, NULL);
	p = g_subprocess_newv(
	    (const gchar *const *)argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
	g_assert_no_error(error);
	g_ptr_array_add(fx->sims, p);
	in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(p));
	line = g_data_input_stream_read_line(in, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(line, "READY /"));
	return g_strdup(line + strlen("READY "));
}

static void
test_fixture_setup(TestFixture *fx, gconstpointer user_data)
{
	const TestCase *tc = user_data;
	const gchar *tag = tc->tag;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *contents = NULL;

	fx->workspace = g_dir_make_tmp("fst-aws-job-test-XXXXXX", &error);
	g_assert_no_error(error);
	g_assert_true(fst_station_init_workspace(fx->workspace, "AWS Job Test", &error));
	g_assert_no_error(error);
	fx->db_path = g_build_filename(fx->workspace, "station.db", NULL);
	fx->policy_file = g_build_filename(fx->workspace, "policy.json", NULL);
	g_assert_true(
	    g_file_set_contents(fx->policy_file,
	                        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
	                        "\"Action\":\"iot:Connect\",\"Resource\":\"*\"}]}",
	                        -1,
	                        &error));
	fx->profile = g_build_filename(fx->workspace, "aws-register.profile", NULL);
	contents = g_strdup_printf("[profile]\n"
	                           "name=aws-register\n"
	                           "models=devsim-*\n"
	                           "key-source=%s\n"
	                           "key-types=%s\n"
	                           "issuer=%s\n"
	                           "[subject]\n"
	                           "cn={model}-{uid}\n"
	                           "o=Fleetstation Test\n"
	                           "[validity]\n"
	                           "days=365\n"
	                           "[trust]\n"
	                           "endpoint=ats\n"
	                           "include-starfield=false\n"
	                           "[aws]\n"
	                           "register=%s\n"
	                           "region=us-east-1\n"
	                           "thing-name=line5-{device}\n"
	                           "policy=fleet-line5-%s\n"
	                           "policy-file=policy.json\n"
	                           "with-ca=%s\n"
	                           "status=active\n",
	                           tc->key_source,
	                           tc->key_type,
	                           tc->issuer,
	                           tc->no_register ? "false" : "true",
	                           tag,
	                           tc->with_ca ? "true" : "false");
	g_assert_true(g_file_set_contents(fx->profile, contents, -1, &error));
	g_assert_no_error(error);
	if (tc->one_key) {
		g_autofree gchar *key_path = g_build_filename(fx->workspace, "one-key.pem", NULL);
		g_autoptr(EVP_PKEY) key = fst_test_pki_keygen(tc->key_type);
		g_autoptr(BIO) bio = BIO_new_file(key_path, "w");
		g_assert_nonnull(bio);
		g_assert_cmpint(
		    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
	}
	fx->sims = g_ptr_array_new_with_free_func(g_object_unref);
	for (guint i = 0; i < TEST_N_DEVICES; i++) {
		fx->uids[i] = g_strdup_printf("AWSJOB-%s-%u", tag, i);
		fx->ports[i] = test_start_sim(fx, tc, fx->uids[i]);
	}
	fx->context = g_main_context_new();
	g_main_context_push_thread_default(fx->context);
}

static void
test_fixture_teardown(TestFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", fx->workspace);
	for (guint i = 0; i < fx->sims->len; i++) {
		GSubprocess *p = g_ptr_array_index(fx->sims, i);
		g_subprocess_send_signal(p, SIGTERM);
		g_subprocess_wait(p, NULL, NULL);
	}
	for (guint i = 0; i < TEST_N_DEVICES; i++) {
		g_free(fx->ports[i]);
		g_free(fx->uids[i]);
	}
	g_main_context_pop_thread_default(fx->context);
	g_main_context_unref(fx->context);
	g_ptr_array_unref(fx->sims);
	g_clear_object(&fx->done);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(fx->workspace);
	g_free(fx->db_path);
	g_free(fx->profile);
	g_free(fx->policy_file);
}

static void
test_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	TestFixture *fx = user_data;
	fx->done = g_object_ref(result);
}

/* runs a provisioning job on the fixture's devices; FALSE with @error when
 * the run itself fails */
static gboolean
test_run_job_full(TestFixture *fx, FstJob **job_out, GError **error)
{
	FstJobOptions options = {
	    .workspace = fx->workspace,
	    .profile = fx->profile,
	    .lot = "LOT-AWS",
	    .operator_name = "AWS Tester",
	    .ports = (const gchar *const *)fx->ports,
	};
	g_autoptr(FstJob) job = fst_job_new(FST_JOB_KIND_PROVISION, &options);
	gboolean ok;

	g_clear_object(&fx->done);
	fst_job_run_async(job, NULL, test_done_cb, fx);
	while (fx->done == NULL)
		g_main_context_iteration(fx->context, TRUE);
	while (g_main_context_iteration(fx->context, FALSE))
		;
	ok = fst_job_run_finish(job, fx->done, error);
	if (job_out != NULL)
		*job_out = g_steal_pointer(&job);
	return ok;
}

/* provisions the fixture's devices with the registering profile */
static FstJob *
test_run_job(TestFixture *fx)
{
	FstJob *job = NULL;
	g_autoptr(GError) error = NULL;
	const FstJobSummary *summary;

	g_assert_true(test_run_job_full(fx, &job, &error));
	g_assert_no_error(error);
	summary = fst_job_get_summary(job);
	g_assert_cmpuint(summary->provisioned, ==, TEST_N_DEVICES);
	g_assert_cmpuint(summary->failed, ==, 0);
	return job;
}

/* AWS has each device's certificate once, on its thing, with the policy:
 * registered by the station (RegisterCertificate*), or @created by AWS
 * (CreateCertificateFromCsr, CreateKeysAndCertificate) and never registered */
static void
test_check_registered(TestFixture *fx,
                      const gchar *tag,
                      const gchar *thing_prefix,
                      JsonObject *before,
                      gboolean created)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsIot) iot = test_peer_iot();
	g_autoptr(JsonObject) stats = test_peer_stats();
	g_autofree gchar *policy = g_strdup_printf("fleet-line5-%s", tag);
	JsonObject *registered_ids = json_object_get_object_member(stats, "registered_ids");

	g_assert_cmpint(json_object_get_int_member(stats, "register_ok") -
	                    json_object_get_int_member(before, "register_ok"),
	                ==,
	                created ? 0 : TEST_N_DEVICES);
	g_assert_cmpint(json_object_get_int_member(stats, "created") -
	                    json_object_get_int_member(before, "created"),
	                ==,
	                created ? TEST_N_DEVICES : 0);
	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM registrations WHERE action = 'register' "
	                             "AND state = 'done' AND remote_id LIKE "
	                             "'arn:aws:iot:us-east-1:%:cert/%'"),
	                ==,
	                TEST_N_DEVICES);
	for (guint i = 0; i < TEST_N_DEVICES; i++) {
		g_autofree gchar *thing = g_strdup_printf("%s%s", thing_prefix, fx->uids[i]);
		g_autoptr(GPtrArray) principals = NULL;
		g_autoptr(GPtrArray) policies = NULL;
		FstAwsCertificate *cert;
		const gchar *cert_id;

		principals = fst_aws_iot_list_thing_principals(iot, thing, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(principals->len, ==, 1);
		cert = g_ptr_array_index(principals, 0);
		cert_id = strstr(cert->certificate_arn, ":cert/");
		g_assert_nonnull(cert_id);
		if (!created) {
			g_assert_cmpint(
			    json_object_get_int_member_with_default(registered_ids, cert_id + 6, 0),
			    ==,
			    1);
		}
		/* the certificate on the thing is the one the station recorded for
		 * the device, under the id AWS gives it */
		{
			g_autofree gchar *sql = g_strdup_printf(
			    "SELECT count(*) FROM certificates c JOIN devices d ON d.id = "
			    "c.device_id WHERE d.uid = '%s' AND c.aws_cert_id = '%s' AND c.state = "
			    "'verified'",
			    fx->uids[i],
			    cert_id + 6);
			g_assert_cmpint(test_sql_int(fx->db_path, sql), ==, 1);
		}
		policies =
		    fst_aws_iot_list_attached_policies(iot, cert->certificate_arn, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(policies->len, ==, 1);
		g_assert_cmpstr(g_ptr_array_index(policies, 0), ==, policy);
	}
}

static void
test_job_registers(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(JsonObject) before = test_peer_stats();
	g_autoptr(FstJob) job = NULL;
	gint64 pending = -1, failed = -1;
	g_autoptr(GError) error = NULL;

	test_aws_env(peer_url);
	job = test_run_job(fx);
	/* registered by the job's worker, with no `register push` */
	g_assert_true(fst_job_get_registration_queue(job, &pending, &failed, &error));
	g_assert_no_error(error);
	g_assert_cmpint(pending, ==, 0);
	g_assert_cmpint(failed, ==, 0);
	test_check_registered(fx, ((const TestCase *)user_data)->tag, "line5-", before, FALSE);
}

/* runs the CLI, which must succeed; returns its output */
static gchar *
test_cli(const gchar *const *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	gchar *out = NULL;
	gint status = 0;

	g_ptr_array_add(argv, (gpointer)(guintptr)g_getenv("FST_STATION"));
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)(guintptr)args[i]);
	g_ptr_array_add(argv, NULL);
	g_assert_true(g_spawn_sync(NULL,
	                           (gchar **)argv->pdata,
	                           NULL,
	                           G_SPAWN_DEFAULT,
	                           NULL,
	                           NULL,
	                           &out,
	                           NULL,
	                           &status,
	                           &error));
	g_assert_no_error(error);
	g_test_message("%s: %s", args[0], out);
	g_assert_true(g_spawn_check_wait_status(status, &error));
	g_assert_no_error(error);
	return out;
}

/* `fleetstation register push` of the fixture's workspace with its profile
 * (each certificate gets what its profile's [aws] group says: the file, which
 * is not in the templates; --thing-name @thing_name wins over it), once the
 * rows the worker put off are due again; it must succeed; returns its output */
static gchar *
test_push_when_due(TestFixture *fx, const gchar *thing_name)
{
	const gchar *args[] = {"register",
	                       "push",
	                       "--workspace",
	                       fx->workspace,
	                       "--profile",
	                       fx->profile,
	                       "--region",
	                       "us-east-1",
	                       thing_name != NULL ? "--thing-name" : NULL,
	                       thing_name,
	                       NULL};

	while (test_sql_int(fx->db_path,
	                    "SELECT count(*) FROM registrations WHERE next_attempt_at > "
	                    "CAST(strftime('%s', 'now') AS INTEGER) * 1000000") > 0)
		g_usleep(100000);
	return test_cli(args);
}

static void
test_job_offline(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(JsonObject) before = test_peer_stats();
	g_autoptr(FstJob) job = NULL;
	g_autoptr(GError) error = NULL;
	const TestCase *tc = user_data;
	g_autofree gchar *out = NULL;
	gint64 pending = -1;

	/* nothing listens there: every AWS call fails at once */
	test_aws_env("http://127.0.0.1:9");
	job = test_run_job(fx);
	g_assert_true(fst_job_get_registration_queue(job, &pending, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(pending, ==, TEST_N_DEVICES);
	g_assert_cmpint(
	    test_sql_int(fx->db_path, "SELECT count(*) FROM certificates"), ==, TEST_N_DEVICES);

	/* then `register push`, with AWS back, drains the queue */
	test_aws_env(peer_url);
	out = test_push_when_due(fx, tc->thing_name);
	g_assert_true(fst_job_get_registration_queue(job, &pending, NULL, &error));
	g_assert_cmpint(pending, ==, 0);
	test_check_registered(
	    fx, tc->tag, tc->thing_name != NULL ? "ovr5-" : "line5-", before, FALSE);
}

/* `fleetstation register push` of the fixture's workspace, which must
 * succeed; returns its output */
static gchar *
test_register_push(TestFixture *fx)
{
	const gchar *args[] = {
	    "register", "push", "--workspace", fx->workspace, "--region", "us-east-1", NULL};
	return test_cli(args);
}

/* certificates a renewal retired the issuing CA of, still waiting in the
 * queue (AWS out of reach during the run), register with that CA: the
 * registration sends the retired CA's certificate, which AWS knows */
static void
test_job_renewed_ca(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsIot) iot = NULL;
	g_autoptr(FstAwsCertificate) old_ca = NULL;
	g_autoptr(GPtrArray) by_ca = NULL;
	g_autoptr(FstJob) job = NULL;
	g_autofree gchar *ca_path = g_build_filename(fx->workspace, "ca", "issuing-ca.pem", NULL);
	g_autofree gchar *old_pem = NULL;
	g_autofree gchar *new_pem = NULL;
	g_autofree gchar *out = NULL;
	gint64 pending = -1;

	test_aws_env("http://127.0.0.1:9");
	job = test_run_job(fx);
	g_assert_true(fst_job_get_registration_queue(job, &pending, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(pending, ==, TEST_N_DEVICES);
	g_clear_object(&job);

	/* the CA that issued them is registered at AWS, then renewed here */
	test_aws_env(peer_url);
	iot = test_peer_iot();
	g_assert_true(g_file_get_contents(ca_path, &old_pem, NULL, &error));
	old_ca =
	    fst_aws_iot_register_ca_certificate(iot, old_pem, NULL, TRUE, NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	{
		const gchar *args[] = {"ca", "renew", "--workspace", fx->workspace, NULL};
		g_autofree gchar *renewed = test_cli(args);
		g_assert_nonnull(strstr(renewed, "kept as retired-issuing-ca-"));
	}
	g_assert_true(g_file_get_contents(ca_path, &new_pem, NULL, &error));
	g_assert_cmpstr(new_pem, !=, old_pem);

	/* with-ca=true comes from the profile's file */
	out = test_push_when_due(fx, NULL);
	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM registrations WHERE action = 'register' "
	                             "AND state = 'done'"),
	                ==,
	                TEST_N_DEVICES);
	/* AWS files each under the retired CA (ListCertificatesByCA) */
	by_ca = fst_aws_iot_list_certificates(iot, old_ca->certificate_id, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(by_ca->len, ==, TEST_N_DEVICES);
	for (guint i = 0; i < by_ca->len; i++) {
		const FstAwsCertificate *cert = g_ptr_array_index(by_ca, i);
		g_autofree gchar *sql =
		    g_strdup_printf("SELECT count(*) FROM certificates WHERE aws_cert_id = '%s'",
		                    cert->certificate_id);
		g_assert_cmpint(test_sql_int(fx->db_path, sql), ==, 1);
	}
}

/* `fleetstation revoke` of the first device's certificate, which queues its
 * revocation at AWS */
static void
test_revoke_first(TestFixture *fx)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->db_path, &error);
	g_autoptr(FstDbCert) cert = NULL;
	g_autofree gchar *out = NULL;

	g_assert_no_error(error);
	cert = fst_db_get_active_certificate(db, fx->uids[0], &error);
	g_assert_no_error(error);
	{
		const gchar *args[] = {"revoke",
		                       cert->serial_hex,
		                       "--reason",
		                       "keyCompromise",
		                       "--workspace",
		                       fx->workspace,
		                       NULL};
		out = test_cli(args);
		g_assert_nonnull(strstr(out, "queued to be revoked where it is registered (1)"));
	}
}

/* `fleetstation revoke` of the first device's certificate, then `register
 * push`: AWS has it REVOKED (UpdateCertificate), the others stay ACTIVE */
static void
test_revoke_first_at_aws(TestFixture *fx)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsIot) iot = test_peer_iot();
	g_autoptr(FstJob) job = NULL;
	g_autofree gchar *sql = NULL;
	g_autofree gchar *out = NULL;

	test_revoke_first(fx);
	out = test_register_push(fx);
	g_assert_nonnull(strstr(out, "revoked 1"));
	for (guint i = 0; i < TEST_N_DEVICES; i++) {
		g_autoptr(FstAwsCertificate) cert = NULL;
		g_autofree gchar *id = NULL;
		g_free(sql);
		sql = g_strdup_printf("SELECT c.aws_cert_id FROM certificates c JOIN devices d ON "
		                      "d.id = c.device_id WHERE d.uid = '%s'",
		                      fx->uids[i]);
		id = test_sql_text(fx->db_path, sql);
		cert = fst_aws_iot_describe_certificate(iot, id, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(cert->status, ==, i == 0 ? "REVOKED" : "ACTIVE");
	}
	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM registrations WHERE action = 'revoke' "
	                             "AND state = 'done'"),
	                ==,
	                1);
	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM events WHERE step = "
	                             "'aws-revoke-certificate' AND outcome = 'ok' AND detail LIKE "
	                             "'% set REVOKED in us-east-1'"),
	                ==,
	                1);
}

/* a registered certificate revoked with `fleetstation revoke` is revoked at
 * AWS through the queue */
static void
test_job_revoke(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(FstJob) job = NULL;

	test_aws_env(peer_url);
	job = test_run_job(fx);
	g_clear_object(&job);
	test_revoke_first_at_aws(fx);
}

/* true if @needle is anywhere in the file @path (a missing file has nothing) */
static gboolean
test_file_has(const gchar *path, const gchar *needle)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	gsize n = strlen(needle);
	if (!g_file_get_contents(path, &data, &len, NULL))
		return FALSE;
	for (gsize i = 0; i + n <= len; i++) {
		if (memcmp(data + i, needle, n) == 0)
			return TRUE;
	}
	return FALSE;
}

/* the status AWS has for the certificate recorded for the fixture's device @i */
static gchar *
test_aws_status(TestFixture *fx, FstAwsIot *iot, guint i)
{
	g_autofree gchar *sql = g_strdup_printf(
	    "SELECT c.aws_cert_id FROM certificates c JOIN devices d ON d.id = c.device_id "
	    "WHERE d.uid = '%s'",
	    fx->uids[i]);
	g_autofree gchar *id = test_sql_text(fx->db_path, sql);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsCertificate) cert = fst_aws_iot_describe_certificate(iot, id, NULL, &error);

	g_assert_no_error(error);
	return g_strdup(cert->status);
}

/* every certificate AWS made for the run was made INACTIVE, activated after
 * the commit that recorded it, and is ACTIVE at AWS */
static void
test_check_activated_after_recorded(TestFixture *fx, JsonObject *before)
{
	g_autoptr(FstAwsIot) iot = test_peer_iot();
	g_autoptr(JsonObject) after = test_peer_stats();

	g_assert_cmpint(json_object_get_int_member(after, "created") -
	                    json_object_get_int_member(before, "created"),
	                ==,
	                TEST_N_DEVICES);
	g_assert_cmpint(json_object_get_int_member(after, "created_active") -
	                    json_object_get_int_member(before, "created_active"),
	                ==,
	                0);
	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM event_steps a JOIN event_steps i ON "
	                             "i.device_id = a.device_id WHERE a.step = "
	                             "'aws-activate-certificate' AND a.outcome = 'ok' AND "
	                             "i.step = 'certificate-issued' AND a.event_id > i.event_id"),
	                ==,
	                TEST_N_DEVICES);
	for (guint i = 0; i < TEST_N_DEVICES; i++) {
		g_autofree gchar *status = test_aws_status(fx, iot, i);
		g_assert_cmpstr(status, ==, "ACTIVE");
	}
}

static void
test_job_aws_issues(TestFixture *fx, gconstpointer user_data)
{
	const TestCase *tc = user_data;
	g_autoptr(JsonObject) before = test_peer_stats();
	g_autoptr(FstJob) job = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *wal = g_strdup_printf("%s-wal", fx->db_path);
	g_autofree gchar *issued = g_strdup_printf(
	    "SELECT count(*) FROM event_steps WHERE step = 'issue' AND outcome = 'ok' AND detail "
	    "LIKE "
	    "'issued by AWS IoT in us-east-1 (%s) as arn:aws:iot:us-east-1:%%:cert/%%'",
	    tc->injection_only ? "CreateKeysAndCertificate" : "CreateCertificateFromCsr");
	gint64 pending = -1, failed = -1;

	test_aws_env(peer_url);
	job = test_run_job(fx);

	/* AWS made each certificate INACTIVE, and the station activated it only
	 * once its first commit had recorded it: the activation is a step of a
	 * later commit of the device than the one with the certificate */
	test_check_activated_after_recorded(fx, before);

	/* recorded, burned, read back and proven like the station CA's; the
	 * issue names the certificate AWS made, and no station CA issued it */
	g_assert_cmpint(test_sql_int(fx->db_path, issued), ==, TEST_N_DEVICES);
	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM certificates WHERE ca_id IS NULL AND "
	                             "state = 'verified' AND subject = 'CN=AWS IoT Certificate'"),
	                ==,
	                TEST_N_DEVICES);
	g_assert_cmpint(test_sql_int(fx->db_path, "SELECT count(*) FROM cas"), ==, 0);
	/* registered by AWS as it issued it: the rows carry the ARN from the
	 * start; the worker attached thing and policy if the profile wants them,
	 * else the rows are done at once */
	g_assert_true(fst_job_get_registration_queue(job, &pending, &failed, &error));
	g_assert_no_error(error);
	g_assert_cmpint(pending, ==, 0);
	g_assert_cmpint(failed, ==, 0);
	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM registrations WHERE action = 'register' "
	                             "AND state = 'done' AND target = 'aws-iot:us-east-1' AND "
	                             "remote_id LIKE 'arn:aws:iot:us-east-1:%:cert/%'"),
	                ==,
	                TEST_N_DEVICES);
	if (!tc->no_register) {
		test_check_registered(fx, tc->tag, "line5-", before, TRUE);
	} else {
		g_autoptr(JsonObject) after = test_peer_stats();
		g_assert_cmpint(json_object_get_int_member(after, "created") -
		                    json_object_get_int_member(before, "created"),
		                ==,
		                TEST_N_DEVICES);
		g_assert_cmpint(test_sql_int(fx->db_path,
		                             "SELECT count(*) FROM events WHERE step LIKE 'aws-%'"),
		                ==,
		                0);
	}
	/* the key AWS made went to the device only; the files are read once the
	 * job's connections are closed (the result holds the job): closing a
	 * descriptor of the database would drop their locks */
	g_assert_cmpint(test_sql_int(fx->db_path, "SELECT count(*) FROM key_escrows"), ==, 0);
	g_clear_object(&job);
	g_clear_object(&fx->done);
	g_assert_false(test_file_has(fx->db_path, "PRIVATE KEY"));
	g_assert_false(test_file_has(wal, "PRIVATE KEY"));
	/* revoked where AWS issued it */
	test_revoke_first_at_aws(fx);
}

/* the job after AWS IoT, the issuer, refused the station (@why: the error
 * type AWS gave): the line stopped itself, with the refusal, after the
 * devices in flight (one per port, all started at once) failed */
static void
test_check_issuer_refused(FstJob *job, const GError *error, const gchar *op, const gchar *why)
{
	const FstJobSummary *summary = fst_job_get_summary(job);

	g_assert_error(error, FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
	g_test_message("%s", error->message);
	g_assert_true(
	    g_str_has_prefix(error->message, "the line stopped: no certificate can be issued"));
	g_assert_nonnull(strstr(error->message, op));
	g_assert_nonnull(strstr(error->message, why));
	g_assert_true(summary->halted);
	g_assert_false(summary->stopped);
	g_assert_cmpuint(summary->provisioned, ==, 0);
	g_assert_cmpuint(summary->failed, ==, TEST_N_DEVICES);
	g_assert_error(fst_job_get_halt_error(job), FST_ERROR, FST_ERROR_CA_UNAVAILABLE);
}

/* AWS refuses the activation: each device fails before anything is burned,
 * with an error that says so, and the line stops; its certificate, recorded,
 * is revoked in the database and stays INACTIVE at AWS, where nothing can
 * connect with it */
static void
test_job_aws_activation_refused(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(FstAwsIot) iot = NULL;
	g_autoptr(FstJob) job = NULL;
	g_autoptr(GError) error = NULL;

	test_aws_env(peer_url);
	test_peer_faults("{\"refuse_op\": \"PUT /certificates\"}");
	g_assert_false(test_run_job_full(fx, &job, &error));
	test_peer_faults("{\"refuse_op\": null}");
	test_check_issuer_refused(job, error, "UpdateCertificate", "AccessDenied");

	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM devices WHERE state = 'failed' AND "
	                             "last_error LIKE '%activating certificate % at AWS IoT, "
	                             "which issued it INACTIVE: %AccessDenied%'"),
	                ==,
	                TEST_N_DEVICES);
	g_assert_cmpint(
	    test_sql_int(fx->db_path, "SELECT count(*) FROM certificates WHERE state = 'revoked'"),
	    ==,
	    TEST_N_DEVICES);
	g_assert_cmpint(
	    test_sql_int(fx->db_path,
	                 "SELECT count(*) FROM event_steps WHERE step = 'burn' OR step = "
	                 "'aws-activate-certificate'"),
	    ==,
	    0);
	/* at the issue step, the issuer's failure, not the board's */
	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM event_steps WHERE step = 'issue' AND "
	                             "outcome = 'ca-unavailable'"),
	                ==,
	                TEST_N_DEVICES);
	iot = test_peer_iot();
	for (guint i = 0; i < TEST_N_DEVICES; i++) {
		g_autofree gchar *status = test_aws_status(fx, iot, i);
		g_assert_cmpstr(status, !=, "ACTIVE");
	}
}

/* AWS fails the issuance itself (CreateCertificateFromCsr) with @fault (the
 * peer's fault that does it, named by its key): the line stops, each device
 * failed with @why in its error; nothing is recorded as issued, nothing is
 * burned */
static void
test_job_aws_issue_fails(TestFixture *fx, const gchar *fault, const gchar *why)
{
	g_autoptr(FstJob) job = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *set = g_strdup_printf("{\"%s\": \"POST /certificates\"}", fault);
	g_autofree gchar *unset = g_strdup_printf("{\"%s\": null}", fault);
	g_autofree gchar *sql = g_strdup_printf(
	    "SELECT count(*) FROM devices WHERE state = 'failed' AND last_error LIKE '%%%s%%'",
	    why);

	test_aws_env(peer_url);
	test_peer_faults(set);
	g_assert_false(test_run_job_full(fx, &job, &error));
	test_peer_faults(unset);
	test_check_issuer_refused(job, error, "CreateCertificateFromCsr", why);
	g_assert_cmpint(test_sql_int(fx->db_path, "SELECT count(*) FROM certificates"), ==, 0);
	g_assert_cmpint(test_sql_int(fx->db_path, sql), ==, TEST_N_DEVICES);
	g_assert_cmpint(
	    test_sql_int(fx->db_path, "SELECT count(*) FROM event_steps WHERE step = 'burn'"),
	    ==,
	    0);
}

/* AWS refuses the station */
static void
test_job_aws_issue_refused(TestFixture *fx, gconstpointer user_data)
{
	test_job_aws_issue_fails(fx, "refuse_op", "AccessDenied");
}

/* AWS IoT out of reach during a run (every try answered 503): the issuer is
 * gone for every next board too, so the line stops itself as for a refusal,
 * instead of failing board after board */
static void
test_job_aws_unreachable(TestFixture *fx, gconstpointer user_data)
{
	test_job_aws_issue_fails(fx, "unavailable_op", "ServiceUnavailableException");
}

static void
test_job_aws_offline(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(JsonObject) before = test_peer_stats();
	g_autoptr(JsonObject) after = NULL;
	g_autoptr(GError) error = NULL;

	/* AWS unreachable: refused before any device is touched */
	test_aws_env("http://127.0.0.1:9");
	g_assert_false(test_run_job_full(fx, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_DISCONNECTED);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "issuer=aws"));
	g_assert_nonnull(strstr(error->message, "connect the station to AWS"));
	g_clear_error(&error);

	/* no credentials: the same, with what to set */
	test_aws_env(peer_url);
	g_unsetenv("AWS_ACCESS_KEY_ID");
	g_unsetenv("AWS_SECRET_ACCESS_KEY");
	g_assert_false(test_run_job_full(fx, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "AWS_ACCESS_KEY_ID"));

	g_assert_cmpint(test_sql_int(fx->db_path, "SELECT count(*) FROM devices"), ==, 0);
	g_assert_cmpint(test_sql_int(fx->db_path, "SELECT count(*) FROM certificates"), ==, 0);
	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM event_steps WHERE step IN "
	                             "('connect', 'identify')"),
	                ==,
	                0);
	after = test_peer_stats();
	g_assert_cmpint(json_object_get_int_member(after, "created"),
	                ==,
	                json_object_get_int_member(before, "created"));
}

/* the ids and states of every certificate AWS holds: id -> status */
static GHashTable *
test_aws_certificates(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsIot) iot = test_peer_iot();
	g_autoptr(GPtrArray) certs = NULL;
	GHashTable *out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

	certs = fst_aws_iot_list_certificates(iot, NULL, NULL, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < certs->len; i++) {
		FstAwsCertificate *c = g_ptr_array_index(certs, i);
		g_hash_table_insert(out, g_strdup(c->certificate_id), g_strdup(c->status));
	}
	return out;
}

/* AWS loses its answer to two create calls after making the certificate:
 * the station retries and gets another. From a CSR, it finds the first one
 * by the device's key and deletes it, so that AWS holds exactly the
 * certificates the database recorded, and the issue step says so; with a key
 * AWS made, nothing tells the lost one from another station's: it stays,
 * INACTIVE, and the issue step says it may exist */
static void
test_job_aws_lost_answers(TestFixture *fx, gconstpointer user_data)
{
	const TestCase *tc = user_data;
	gboolean by_csr = !tc->injection_only;
	g_autoptr(GHashTable) before = test_aws_certificates();
	g_autoptr(GHashTable) after = NULL;
	g_autoptr(JsonObject) stats_before = test_peer_stats();
	g_autoptr(JsonObject) stats_after = NULL;
	g_autoptr(FstJob) job = NULL;
	g_autofree gchar *faults =
	    g_strdup_printf("{\"lost_next\": 2, \"lost_op\": \"POST %s\"}",
	                    by_csr ? "/certificates" : "/keys-and-certificate");
	GHashTableIter iter;
	gpointer id, status;
	guint unknown = 0;

	test_aws_env(peer_url);
	test_peer_faults(faults);
	job = test_run_job(fx);
	test_peer_faults("{\"lost_next\": 0, \"lost_op\": null}");
	stats_after = test_peer_stats();
	g_assert_cmpint(json_object_get_int_member(stats_after, "lost") -
	                    json_object_get_int_member(stats_before, "lost"),
	                ==,
	                2);
	g_assert_cmpint(json_object_get_int_member(stats_after, "created") -
	                    json_object_get_int_member(stats_before, "created"),
	                ==,
	                TEST_N_DEVICES + 2);
	g_assert_cmpint(
	    test_sql_int(fx->db_path, "SELECT count(*) FROM certificates WHERE state = 'verified'"),
	    ==,
	    TEST_N_DEVICES);

	after = test_aws_certificates();
	g_hash_table_iter_init(&iter, after);
	while (g_hash_table_iter_next(&iter, &id, &status)) {
		g_autofree gchar *sql = NULL;
		if (g_hash_table_contains(before, id))
			continue;
		sql = g_strdup_printf("SELECT count(*) FROM certificates WHERE aws_cert_id = '%s'",
		                      (const gchar *)id);
		if (test_sql_int(fx->db_path, sql) == 1) {
			g_assert_cmpstr(status, ==, "ACTIVE");
			continue;
		}
		/* never an active certificate the database does not know */
		g_assert_cmpstr(status, ==, "INACTIVE");
		unknown++;
	}
	if (by_csr) {
		g_autofree gchar *deleted = NULL;
		g_assert_cmpint(unknown, ==, 0);
		/* the issue steps name the two certificates deleted */
		deleted = test_sql_text(
		    fx->db_path,
		    "SELECT group_concat(detail, '|') FROM event_steps WHERE step = 'issue' AND "
		    "detail LIKE '%answer% of AWS IoT lost; certificate% deleted at AWS'");
		g_assert_nonnull(deleted);
		g_test_message("%s", deleted);
		/* the ids after "lost; certificate(s) ": gone from AWS, and new */
		{
			g_auto(GStrv) parts = g_strsplit(deleted, "lost; certificate", -1);
			guint named = 0;
			for (guint i = 1; parts[i] != NULL; i++) {
				const gchar *p = parts[i] + (parts[i][0] == 's' ? 1 : 0);
				while (*p == ' ' || *p == ',') {
					g_autofree gchar *one = NULL;
					p += strspn(p, " ,");
					if (strspn(p, "0123456789abcdef") != 64)
						break;
					one = g_strndup(p, 64);
					g_assert_false(g_hash_table_contains(after, one));
					g_assert_false(g_hash_table_contains(before, one));
					named++;
					p += 64;
				}
			}
			g_assert_cmpint(named, ==, 2);
		}
	} else {
		g_assert_cmpint(unknown, ==, 2);
		g_assert_cmpint(
		    test_sql_int(fx->db_path,
		                 "SELECT count(*) FROM event_steps WHERE step = 'issue' "
		                 "AND detail LIKE '%answer% of AWS IoT lost; a "
		                 "certificate AWS may have made for %, INACTIVE, with a "
		                 "key nobody holds, is left there'"),
		    >=,
		    1);
	}
}

/* a certificate recorded for a device as the pipeline's first commit
 * records it: one AWS issued (@issuer_sha256 %NULL), or one a CA signed;
 * with @registered, its register row at AWS done */
static void
test_record_issued(FstDb *db,
                   const FstDeviceInfo *info,
                   const FstIssuedCert *issued,
                   const gchar *issuer_sha256,
                   gboolean registered)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *issuer = g_strdup(issuer_sha256);
	g_autofree gchar *target = g_strdup("aws-iot:us-east-1");
	g_autofree gchar *arn =
	    g_strdup_printf("arn:aws:iot:us-east-1:123456789012:cert/%s", issued->aws_cert_id);
	FstDbCert cert = {0};
	gint64 device_id = fst_db_begin_device(db, 0, info, NULL, &error);

	g_assert_no_error(error);
	cert.serial_hex = issued->serial_hex;
	cert.der = issued->der;
	cert.aws_cert_id = issued->aws_cert_id;
	cert.subject = issued->subject;
	cert.key_type = issued->key_type;
	cert.not_before = issued->not_before;
	cert.not_after = issued->not_after;
	cert.issuer_sha256 = issuer;
	cert.state = FST_CERT_STATE_ISSUED;
	if (registered) {
		cert.register_target = target;
		cert.register_remote_id = arn;
		cert.register_done = TRUE;
	}
	g_assert_true(fst_db_add_certificate(db, device_id, &cert, &error));
	g_assert_no_error(error);
}

/* a board whose key the station certified for another device is refused
 * before AWS is asked: AWS keeps every certificate it makes, and it makes
 * none for it; the device holding the key gets a new certificate for it */
static void
test_key_reused_before_aws(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsIot) iot = test_peer_iot();
	g_autoptr(FstProfile) profile = fst_profile_load(fx->profile, &error);
	g_autoptr(FstDb) db = fst_db_open(fx->db_path, &error);
	g_autoptr(EVP_PKEY) key = fst_test_pki_keygen("ec-p256");
	g_autoptr(GBytes) csr = fst_test_pki_csr(key, NULL);
	g_autoptr(FstDeviceInfo) holder =
	    fst_test_pki_device("AWSJOB-dup-0", "devsim-1", FST_KEY_TYPE_EC_P256);
	g_autoptr(FstDeviceInfo) other =
	    fst_test_pki_device("AWSJOB-dup-1", "devsim-1", FST_KEY_TYPE_EC_P256);
	g_autoptr(FstIssuedCert) first = NULL;
	g_autoptr(FstIssuedCert) refused = NULL;
	g_autoptr(FstIssuedCert) again = NULL;
	g_autoptr(GHashTable) before = NULL;
	g_autoptr(GHashTable) after = NULL;
	g_autofree gchar *arn = NULL;

	g_assert_no_error(error);
	first =
	    fst_aws_issuer_issue_from_csr(iot, profile, holder, csr, db, &arn, NULL, NULL, &error);
	g_assert_no_error(error);
	test_record_issued(db, holder, first, NULL, FALSE);
	g_clear_pointer(&arn, g_free);

	before = test_aws_certificates();
	refused =
	    fst_aws_issuer_issue_from_csr(iot, profile, other, csr, db, &arn, NULL, NULL, &error);
	g_assert_null(refused);
	g_assert_error(error, FST_ERROR, FST_ERROR_KEY_REUSED);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "device AWSJOB-dup-1"));
	g_assert_nonnull(strstr(error->message, "already certified for device AWSJOB-dup-0"));
	g_clear_error(&error);
	after = test_aws_certificates();
	g_assert_cmpint(g_hash_table_size(after), ==, g_hash_table_size(before));
	g_clear_pointer(&after, g_hash_table_unref);

	again =
	    fst_aws_issuer_issue_from_csr(iot, profile, holder, csr, db, &arn, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(again);
	after = test_aws_certificates();
	g_assert_cmpint(g_hash_table_size(after), ==, g_hash_table_size(before) + 1);
}

/* boards with one key on the line at once, with AWS IoT as the issuer: none
 * is recorded yet, so the check before AWS lets them all through (the peer
 * answers their CreateCertificateFromCsr together), AWS makes each an
 * INACTIVE certificate, and the first commit records one and refuses the
 * others. Their certificates are deleted at AWS, which then holds exactly
 * the one the database records, and each refused board's failure says so;
 * with @delete_refused AWS refuses DeleteCertificate, the certificates
 * stay, and each failure names its own with the command that deletes it */
static void
test_job_aws_one_key(TestFixture *fx, gboolean delete_refused)
{
	g_autoptr(GHashTable) before = test_aws_certificates();
	g_autoptr(GHashTable) after = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstJob) job = NULL;
	g_autofree gchar *recorded = NULL;
	g_autofree gchar *gather = g_strdup_printf(
	    "{\"gather_op\": \"POST /certificates\", \"gather_next\": %d, \"refuse_op\": %s}",
	    TEST_N_DEVICES,
	    delete_refused ? "\"DELETE /certificates\"" : "null");
	GHashTableIter iter;
	gpointer id;
	guint left = 0;
	const FstJobSummary *summary;

	test_aws_env(peer_url);
	test_peer_faults(gather);
	test_run_job_full(fx, &job, &error);
	test_peer_faults("{\"gather_op\": null, \"gather_next\": 0, \"refuse_op\": null}");
	summary = fst_job_get_summary(job);
	g_assert_cmpuint(summary->provisioned, ==, 1);
	g_assert_cmpuint(summary->failed, ==, TEST_N_DEVICES - 1);

	after = test_aws_certificates();
	recorded = test_sql_text(fx->db_path, "SELECT group_concat(aws_cert_id) FROM certificates");
	g_assert_true(g_hash_table_contains(after, recorded));
	g_assert_false(g_hash_table_contains(before, recorded));
	if (!delete_refused) {
		g_assert_cmpuint(g_hash_table_size(after), ==, g_hash_table_size(before) + 1);
		g_assert_cmpint(
		    test_sql_int(fx->db_path,
		                 "SELECT count(*) FROM events WHERE outcome = 'failed' AND "
		                 "detail LIKE '%already certified for device%' AND detail "
		                 "LIKE '%which AWS IoT made INACTIVE for this try, was "
		                 "deleted there%'"),
		    ==,
		    TEST_N_DEVICES - 1);
		return;
	}
	/* each certificate left at AWS is named by the failure it belongs to */
	g_assert_cmpuint(g_hash_table_size(after), ==, g_hash_table_size(before) + TEST_N_DEVICES);
	g_hash_table_iter_init(&iter, after);
	while (g_hash_table_iter_next(&iter, &id, NULL)) {
		g_autofree gchar *sql = NULL;
		if (g_hash_table_contains(before, id) || g_strcmp0(id, recorded) == 0)
			continue;
		sql = g_strdup_printf("SELECT count(*) FROM devices WHERE state = 'failed' AND "
		                      "last_error LIKE '%%AWS IoT holds certificate %s, INACTIVE, "
		                      "which nothing records, and deleting it failed%%aws iot "
		                      "delete-certificate --certificate-id %s`'",
		                      (const gchar *)id,
		                      (const gchar *)id);
		g_assert_cmpint(test_sql_int(fx->db_path, sql), ==, 1);
		left++;
	}
	g_assert_cmpuint(left, ==, TEST_N_DEVICES - 1);
}

static void
test_job_aws_one_key_at_once(TestFixture *fx, gconstpointer user_data)
{
	test_job_aws_one_key(fx, FALSE);
}

static void
test_job_aws_one_key_delete_refused(TestFixture *fx, gconstpointer user_data)
{
	test_job_aws_one_key(fx, TRUE);
}

/* a device came back with the key of a certificate the station recorded
 * (killed before activating it: INACTIVE at AWS), and an answer is lost
 * while AWS issues it again: the certificate of the lost answer is deleted,
 * the recorded one, for the same key and INACTIVE too, stays. The client is
 * reused, so the request whose answer is lost went on a kept-alive
 * connection, and libcurl sends it again by itself, inside one call (the
 * job tests' clients are new for each device: there the client's own retry
 * sends it again) */
static void
test_lost_answer_keeps_recorded(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsIot) iot = test_peer_iot();
	g_autoptr(FstProfile) profile = fst_profile_load(fx->profile, &error);
	g_autoptr(FstDb) db = fst_db_open(fx->db_path, &error);
	g_autoptr(EVP_PKEY) key = fst_test_pki_keygen("ec-p256");
	g_autoptr(GBytes) csr = fst_test_pki_csr(key, NULL);
	g_autoptr(FstDeviceInfo) info =
	    fst_test_pki_device("AWSJOB-kept-0", "devsim-1", FST_KEY_TYPE_EC_P256);
	g_autoptr(FstIssuedCert) first = NULL;
	g_autoptr(FstIssuedCert) second = NULL;
	g_autoptr(GHashTable) before = NULL;
	g_autoptr(GHashTable) after = NULL;
	g_autofree gchar *arn = NULL;
	g_autofree gchar *note = NULL;
	GHashTableIter iter;
	gpointer id;
	guint gone = 0;

	g_assert_no_error(error);
	fst_aws_iot_set_retry(iot, 3, 1, 10);

	first =
	    fst_aws_issuer_issue_from_csr(iot, profile, info, csr, db, &arn, &note, NULL, &error);
	g_assert_no_error(error);
	g_assert_null(note);
	test_record_issued(db, info, first, NULL, FALSE);
	g_clear_pointer(&arn, g_free);

	before = test_aws_certificates();
	test_peer_faults("{\"lost_next\": 1, \"lost_op\": \"POST /certificates\"}");
	second =
	    fst_aws_issuer_issue_from_csr(iot, profile, info, csr, db, &arn, &note, NULL, &error);
	test_peer_faults("{\"lost_next\": 0, \"lost_op\": null}");
	g_assert_no_error(error);
	g_assert_nonnull(note);
	g_test_message("%s", note);
	g_assert_true(g_str_has_prefix(note, "1 answer of AWS IoT lost; certificate "));
	g_assert_nonnull(strstr(note,
	                        ", made for the device's key by a try whose answer was "
	                        "lost, deleted at AWS"));
	g_assert_null(strstr(note, first->aws_cert_id));
	g_assert_null(strstr(note, second->aws_cert_id));

	/* AWS holds the recorded one and the new one, and no other new one */
	after = test_aws_certificates();
	g_assert_cmpstr(g_hash_table_lookup(after, first->aws_cert_id), ==, "INACTIVE");
	g_assert_cmpstr(g_hash_table_lookup(after, second->aws_cert_id), ==, "INACTIVE");
	g_hash_table_iter_init(&iter, before);
	while (g_hash_table_iter_next(&iter, &id, NULL))
		gone += g_hash_table_contains(after, id) ? 0 : 1;
	g_assert_cmpint(gone, ==, 0);
	g_assert_cmpint(g_hash_table_size(after), ==, g_hash_table_size(before) + 1);

	/* AWS refuses the look-up (no iot:DescribeCertificate): the device still
	 * gets its certificate, and the note says what is left and why */
	g_clear_pointer(&arn, g_free);
	g_clear_pointer(&note, g_free);
	g_clear_pointer(&second, fst_issued_cert_free);
	test_peer_faults("{\"lost_next\": 1, \"lost_op\": \"POST /certificates\", "
	                 "\"refuse_op\": \"GET /certificates\"}");
	second =
	    fst_aws_issuer_issue_from_csr(iot, profile, info, csr, db, &arn, &note, NULL, &error);
	test_peer_faults("{\"lost_next\": 0, \"lost_op\": null, \"refuse_op\": null}");
	g_assert_no_error(error);
	g_assert_nonnull(second);
	g_assert_nonnull(note);
	g_test_message("%s", note);
	g_assert_true(g_str_has_prefix(note,
	                               "1 answer of AWS IoT lost; a certificate AWS may have "
	                               "made for it, INACTIVE, is left there: "));
	g_assert_nonnull(strstr(note, "DescribeCertificate"));

	/* every answer lost: the device's error says what AWS may hold */
	g_clear_pointer(&arn, g_free);
	g_clear_pointer(&note, g_free);
	fst_aws_iot_set_retry(iot, 2, 1, 10);
	test_peer_faults("{\"lost_next\": 10, \"lost_op\": \"POST /certificates\"}");
	g_assert_null(
	    fst_aws_issuer_issue_from_csr(iot, profile, info, csr, db, &arn, &note, NULL, &error));
	test_peer_faults("{\"lost_next\": 0, \"lost_op\": null}");
	g_assert_nonnull(error);
	g_test_message("%s", error->message);
	g_assert_true(g_str_has_suffix(error->message,
	                               " answers of AWS IoT lost: AWS may hold an INACTIVE "
	                               "certificate made for them, which nothing records"));
	g_assert_null(arn);
	g_assert_null(note);
}

static gboolean
test_start_peer(void)
{
	const gchar *python = g_getenv("FST_MOTO_PYTHON");
	g_autofree gchar *dir = g_dir_make_tmp("fst-aws-peer-XXXXXX", NULL);
	g_autofree gchar *port_file = g_build_filename(dir, "port", NULL);
	g_autofree gchar *port = NULL;
	g_autoptr(GError) error = NULL;
	gchar *argv[] = {(gchar *)(guintptr)(python != NULL ? python : "python3"),
	                 (gchar *)(guintptr)FST_AWS_PEER,
	                 port_file,
	                 NULL};

	g_assert_true(g_spawn_async(NULL,
	                            argv,
	                            NULL,
	                            G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
	                                G_SPAWN_STDOUT_TO_DEV_NULL,
	                            NULL,
	                            NULL,
	                            &peer_pid,
	                            &error));
	for (guint i = 0; i < 600; i++) {
		gint status = 0;
		if (g_file_get_contents(port_file, &port, NULL, NULL))
			break;
		if (waitpid(peer_pid, &status, WNOHANG) == peer_pid) {
			g_printerr("the AWS peer (moto) did not start: moto is not installed in "
			           "this Python (not in Debian); set FST_MOTO_PYTHON to one that "
			           "has it\n");
			peer_pid = 0;
			g_rmdir(dir);
			return FALSE;
		}
		g_usleep(100000);
	}
	g_assert_nonnull(port);
	g_unlink(port_file);
	g_rmdir(dir);
	peer_url = g_strdup_printf("http://127.0.0.1:%s", port);
	return TRUE;
}

/* `register reconcile --json [OPTION]` of the fixture's workspace: its
 * document, and its exit status in @status */
static JsonObject *
test_reconcile_with(TestFixture *fx, const gchar *option, gint *status)
{
	const gchar *argv[] = {g_getenv("FST_STATION"),
	                       "register",
	                       "reconcile",
	                       "--json",
	                       "--workspace",
	                       fx->workspace,
	                       "--region",
	                       "us-east-1",
	                       option,
	                       NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autofree gchar *out = NULL;
	gint wait_status = 0;

	g_assert_true(g_spawn_sync(NULL,
	                           (gchar **)(guintptr)argv,
	                           NULL,
	                           G_SPAWN_DEFAULT,
	                           NULL,
	                           NULL,
	                           &out,
	                           NULL,
	                           &wait_status,
	                           &error));
	g_assert_no_error(error);
	g_test_message("reconcile: %s", out);
	g_assert_true(WIFEXITED(wait_status));
	*status = WEXITSTATUS(wait_status);
	g_assert_true(json_parser_load_from_data(parser, out, -1, &error));
	g_assert_no_error(error);
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

static JsonObject *
test_reconcile(TestFixture *fx, gint *status)
{
	return test_reconcile_with(fx, NULL, status);
}

/* the finding of @doc about certificate @id, or %NULL */
static JsonObject *
test_finding(JsonObject *doc, const gchar *id)
{
	JsonArray *findings = json_object_get_array_member(doc, "findings");

	for (guint i = 0; i < json_array_get_length(findings); i++) {
		JsonObject *f = json_array_get_object_element(findings, i);
		if (g_strcmp0(json_object_get_string_member(f, "aws_cert_id"), id) == 0)
			return f;
	}
	return NULL;
}

/* the findings of @doc as "kind:status:device" (an absent status or device
 * is "-"), comma-separated, in their order */
static gchar *
test_findings(JsonObject *doc)
{
	JsonArray *findings = json_object_get_array_member(doc, "findings");
	g_autoptr(GString) text = g_string_new(NULL);

	for (guint i = 0; i < json_array_get_length(findings); i++) {
		JsonObject *f = json_array_get_object_element(findings, i);
		g_string_append_printf(
		    text,
		    "%s%s:%s:%s",
		    i > 0 ? "," : "",
		    json_object_get_string_member(f, "kind"),
		    json_object_get_string_member_with_default(f, "aws_status", "-"),
		    json_object_get_string_member_with_default(f, "device", "-"));
		g_assert_nonnull(json_object_get_string_member(f, "advice"));
	}
	return g_string_free(g_steal_pointer(&text), FALSE);
}

/* a certificate the station's CA signs outside any run, for @csr (a CSR's
 * DER) or a new key */
static FstIssuedCert *
test_issue_outside(FstStation *station, const FstProfile *profile, const gchar *uid, GBytes *csr)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = csr == NULL ? fst_test_pki_keygen("ec-p256") : NULL;
	g_autoptr(GBytes) made = key != NULL ? fst_test_pki_csr(key, NULL) : NULL;
	g_autoptr(FstDeviceInfo) info = fst_test_pki_device(uid, "devsim-1", FST_KEY_TYPE_EC_P256);
	FstIssuedCert *issued = fst_ca_issue_from_csr(
	    fst_station_get_ca(station), profile, info, csr != NULL ? csr : made, &error);

	g_assert_no_error(error);
	return issued;
}

/* @issued, which the station's CA signed, recorded for device @uid; with
 * @registered, its register row at AWS done */
static void
test_record_outside(TestFixture *fx,
                    FstStation *station,
                    const gchar *uid,
                    const FstIssuedCert *issued,
                    gboolean registered)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDb) db = fst_db_open(fx->db_path, &error);
	g_autoptr(FstDeviceInfo) info = fst_test_pki_device(uid, "devsim-1", FST_KEY_TYPE_EC_P256);
	g_autoptr(GBytes) ca_der = fst_ca_get_cert_der(fst_station_get_ca(station));
	g_autofree gchar *issuer = fst_x509_sha256_hex(ca_der);

	g_assert_no_error(error);
	test_record_issued(db, info, issued, issuer, registered);
}

/* `register reconcile` finds what differs between the database and AWS:
 * nothing after a run; then a revoked certificate still ACTIVE at AWS (its
 * revocation queued), certificates of the station's CA that AWS has and no
 * record explains (ACTIVE and INACTIVE), and one recorded as registered
 * that AWS does not have; `register push` mends the first */
static void
test_job_reconcile(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsIot) iot = test_peer_iot();
	g_autoptr(FstJob) job = NULL;
	g_autoptr(JsonObject) doc = NULL;
	g_autoptr(FstStation) station = NULL;
	g_autoptr(FstProfile) profile = NULL;
	g_autoptr(FstIssuedCert) rogue = NULL;
	g_autoptr(FstIssuedCert) rogue_off = NULL;
	g_autoptr(FstIssuedCert) gone = NULL;
	g_autoptr(FstAwsCertificate) ca_at_aws = NULL;
	g_autoptr(FstAwsCertificate) at_aws = NULL;
	g_autofree gchar *ca_path = g_build_filename(fx->workspace, "ca", "issuing-ca.pem", NULL);
	g_autofree gchar *ca_pem = NULL;
	g_autofree gchar *findings = NULL;
	g_autofree gchar *expected = NULL;
	g_autofree gchar *expected_b = NULL;
	g_autofree gchar *crashed_id = NULL;
	g_autofree gchar *out = NULL;
	gint status = -1;

	test_aws_env(peer_url);
	job = test_run_job(fx);
	g_clear_object(&job);
	doc = test_reconcile(fx, &status);
	g_assert_cmpint(status, ==, 0);
	g_assert_cmpint(json_object_get_int_member(doc, "recorded"), ==, TEST_N_DEVICES);
	g_assert_cmpint(json_object_get_int_member(doc, "matched"), ==, TEST_N_DEVICES);
	g_assert_cmpint(json_object_get_int_member(doc, "listed"), >=, TEST_N_DEVICES);
	/* the root and issuing CAs, neither registered at AWS */
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(doc, "cas")), ==, 2);
	g_assert_cmpuint(
	    json_array_get_length(json_object_get_array_member(doc, "cas_not_registered")), ==, 2);
	findings = test_findings(doc);
	g_assert_cmpstr(findings, ==, "");
	g_clear_pointer(&doc, json_object_unref);

	/* revoked here, its revocation not pushed */
	test_revoke_first(fx);
	/* the station's CA registered at AWS, and two certificates it signed
	 * outside any run registered with it */
	g_assert_true(g_file_get_contents(ca_path, &ca_pem, NULL, &error));
	ca_at_aws =
	    fst_aws_iot_register_ca_certificate(iot, ca_pem, NULL, TRUE, NULL, NULL, NULL, &error);
	g_assert_no_error(error);
	station = fst_station_open(fx->workspace, &error);
	g_assert_no_error(error);
	profile = fst_profile_load(fx->profile, &error);
	g_assert_no_error(error);
	rogue = test_issue_outside(station, profile, "ROGUE-1", NULL);
	rogue_off = test_issue_outside(station, profile, "ROGUE-2", NULL);
	{
		g_autofree gchar *pem = fst_crypto_pem_encode("CERTIFICATE",
		                                              g_bytes_get_data(rogue->der, NULL),
		                                              g_bytes_get_size(rogue->der),
		                                              NULL);
		g_autofree gchar *pem_off =
		    fst_crypto_pem_encode("CERTIFICATE",
		                          g_bytes_get_data(rogue_off->der, NULL),
		                          g_bytes_get_size(rogue_off->der),
		                          NULL);
		at_aws = fst_aws_iot_register_certificate(iot, pem, ca_pem, TRUE, NULL, &error);
		g_assert_no_error(error);
		g_clear_pointer(&at_aws, fst_aws_certificate_free);
		at_aws =
		    fst_aws_iot_register_certificate(iot, pem_off, ca_pem, FALSE, NULL, &error);
		g_assert_no_error(error);
	}
	/* recorded as registered (its row done), and not at AWS: deleted there */
	gone = test_issue_outside(station, profile, "GONE-1", NULL);
	test_record_outside(fx, station, "GONE-1", gone, TRUE);
	/* a run stopped between AWS making a certificate for a device's key
	 * and its record: AWS has it INACTIVE, and the database files the key
	 * under the device, which came back and was provisioned */
	{
		g_autoptr(EVP_PKEY) key = fst_test_pki_keygen("ec-p256");
		g_autoptr(GBytes) csr = fst_test_pki_csr(key, NULL);
		g_autofree gchar *csr_pem = fst_crypto_pem_encode("CERTIFICATE REQUEST",
		                                                  g_bytes_get_data(csr, NULL),
		                                                  g_bytes_get_size(csr),
		                                                  NULL);
		g_autoptr(FstIssuedCert) again =
		    test_issue_outside(station, profile, "CRASH-1", csr);
		g_clear_pointer(&at_aws, fst_aws_certificate_free);
		at_aws = fst_aws_iot_create_certificate_from_csr(iot, csr_pem, FALSE, NULL, &error);
		g_assert_no_error(error);
		crashed_id = g_strdup(at_aws->certificate_id);
		test_record_outside(fx, station, "CRASH-1", again, FALSE);
	}
	g_clear_pointer(&station, fst_station_unref);

	doc = test_reconcile(fx, &status);
	g_assert_cmpint(status, ==, 1);
	g_assert_cmpint(json_object_get_int_member(doc, "recorded"), ==, TEST_N_DEVICES + 2);
	g_assert_cmpint(json_object_get_int_member(doc, "matched"), ==, TEST_N_DEVICES);
	g_assert_cmpuint(
	    json_array_get_length(json_object_get_array_member(doc, "cas_not_registered")), ==, 1);
	g_assert_cmpint(json_object_get_int_member(doc, "inactive_read"), >=, 1);
	g_assert_cmpint(json_object_get_int_member(doc, "inactive_unread"), ==, 0);
	g_clear_pointer(&findings, g_free);
	findings = test_findings(doc);
	/* the two INACTIVE ones in the order of their ids */
	expected = g_strdup_printf("revoked-active:ACTIVE:%s,unrecorded:ACTIVE:-,missing:-:GONE-1,"
	                           "unrecorded:INACTIVE:-,unrecorded:INACTIVE:CRASH-1",
	                           fx->uids[0]);
	expected_b = g_strdup_printf("revoked-active:ACTIVE:%s,unrecorded:ACTIVE:-,"
	                             "missing:-:GONE-1,unrecorded:INACTIVE:CRASH-1,"
	                             "unrecorded:INACTIVE:-",
	                             fx->uids[0]);
	if (strcmp(rogue_off->aws_cert_id, crashed_id) < 0)
		g_assert_cmpstr(findings, ==, expected);
	else
		g_assert_cmpstr(findings, ==, expected_b);
	{
		JsonArray *list = json_object_get_array_member(doc, "findings");
		JsonObject *f = json_array_get_object_element(list, 0);
		g_assert_nonnull(
		    strstr(json_object_get_string_member(f, "advice"), "register push"));
		f = json_array_get_object_element(list, 1);
		g_assert_cmpstr(
		    json_object_get_string_member(f, "aws_cert_id"), ==, rogue->aws_cert_id);
		f = json_array_get_object_element(list, 3);
		g_assert_cmpstr(json_object_get_string_member(f, "aws_cert_id"),
		                ==,
		                strcmp(rogue_off->aws_cert_id, crashed_id) < 0
		                    ? rogue_off->aws_cert_id
		                    : crashed_id);
	}
	g_clear_pointer(&doc, json_object_unref);

	/* the revocation pushed: AWS has it REVOKED, the rest stays */
	g_free(test_register_push(fx));
	doc = test_reconcile(fx, &status);
	g_assert_cmpint(status, ==, 1);
	g_clear_pointer(&findings, g_free);
	findings = test_findings(doc);
	g_assert_true(g_str_has_prefix(findings, "unrecorded:ACTIVE:-,missing:-:GONE-1,"));
	g_assert_nonnull(strstr(findings, "unrecorded:INACTIVE:CRASH-1"));

	/* each comparison is an audit event of the station */
	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM events WHERE step = 'aws-reconcile' AND "
	                             "device_id IS NULL"),
	                ==,
	                3);
	g_free(out);
	out = test_sql_text(fx->db_path,
	                    "SELECT outcome || ' ' || detail FROM events WHERE step = "
	                    "'aws-reconcile' ORDER BY id DESC LIMIT 1");
	/* the account holds the other tests' certificates too */
	g_assert_true(g_str_has_prefix(out, "differs aws-iot:us-east-1: 5 recorded, "));
	g_assert_nonnull(strstr(out,
	                        " at AWS, 3 in both; 0 revoked-active, 3 unrecorded (1 ACTIVE), "
	                        "1 missing; CAs not registered at AWS: 1 of 2; INACTIVE "
	                        "certificates under no CA read: "));

	/* AWS out of reach: the check fails (exit 8), says which call, and is
	 * no event */
	g_clear_pointer(&doc, json_object_unref);
	test_aws_env("http://127.0.0.1:9");
	doc = test_reconcile(fx, &status);
	test_aws_env(peer_url);
	g_assert_cmpint(status, ==, 8);
	g_assert_cmpstr(json_object_get_string_member(doc, "event"), ==, "error");
	g_assert_nonnull(strstr(json_object_get_string_member(doc, "error"), "ListCertificates"));
	g_assert_cmpint(
	    test_sql_int(fx->db_path, "SELECT count(*) FROM events WHERE step = 'aws-reconcile'"),
	    ==,
	    3);

	/* --delete-leftovers: the certificate AWS made for CRASH-1's key is
	 * left alone while a run could still be at work on it (made under an
	 * hour ago), then deleted at AWS when asked for certificates made 0
	 * minutes ago or more, as an audit event of the device; the one the
	 * station's CA signed and no record explains is never deleted */
	g_clear_pointer(&doc, json_object_unref);
	doc = test_reconcile_with(fx, "--delete-leftovers=60", &status);
	g_assert_cmpint(status, ==, 1);
	g_assert_nonnull(test_finding(doc, crashed_id));
	g_assert_false(json_object_get_boolean_member(test_finding(doc, crashed_id), "deleted"));
	g_clear_pointer(&at_aws, fst_aws_certificate_free);
	at_aws = fst_aws_iot_describe_certificate(iot, crashed_id, NULL, &error);
	g_assert_no_error(error);
	g_clear_pointer(&doc, json_object_unref);
	doc = test_reconcile_with(fx, "--delete-leftovers=0", &status);
	g_assert_cmpint(status, ==, 1);
	g_assert_true(json_object_get_boolean_member(test_finding(doc, crashed_id), "deleted"));
	g_assert_false(
	    json_object_get_boolean_member(test_finding(doc, rogue_off->aws_cert_id), "deleted"));
	g_assert_false(
	    json_object_get_boolean_member(test_finding(doc, rogue->aws_cert_id), "deleted"));
	g_clear_pointer(&at_aws, fst_aws_certificate_free);
	at_aws = fst_aws_iot_describe_certificate(iot, crashed_id, NULL, &error);
	g_assert_null(at_aws);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_free(out);
	out = test_sql_text(fx->db_path,
	                    "SELECT d.uid || ' ' || e.detail FROM events e JOIN devices d ON "
	                    "d.id = e.device_id WHERE e.step = 'aws-delete-certificate'");
	g_assert_true(g_str_has_prefix(out, "CRASH-1 certificate "));
	g_assert_nonnull(strstr(out, crashed_id));
	g_assert_nonnull(strstr(out, "INACTIVE, deleted at AWS"));
	/* gone from the findings; the others stay */
	g_clear_pointer(&doc, json_object_unref);
	doc = test_reconcile(fx, &status);
	g_assert_cmpint(status, ==, 1);
	g_assert_null(test_finding(doc, crashed_id));
	g_assert_nonnull(test_finding(doc, rogue_off->aws_cert_id));
	/* a negative age is refused */
	g_clear_pointer(&doc, json_object_unref);
	doc = test_reconcile_with(fx, "--delete-leftovers=-1", &status);
	g_assert_cmpint(status, ==, 2);
}

int
main(int argc, char **argv)
{
	gint rc;

	g_test_init(&argc, &argv, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!test_start_peer())
		return 77;
	g_test_add("/fst/aws/job/registers-in-background",
	           TestFixture,
	           &test_case_up,
	           test_fixture_setup,
	           test_job_registers,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/offline-rows-wait-for-push",
	           TestFixture,
	           &test_case_down,
	           test_fixture_setup,
	           test_job_offline,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/renewed-ca-registers-its-certificates",
	           TestFixture,
	           &test_case_renewed,
	           test_fixture_setup,
	           test_job_renewed_ca,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/push-options-win-over-profile",
	           TestFixture,
	           &test_case_override,
	           test_fixture_setup,
	           test_job_offline,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/revoke-revokes-at-aws",
	           TestFixture,
	           &test_case_revoke,
	           test_fixture_setup,
	           test_job_revoke,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/reconcile",
	           TestFixture,
	           &test_case_reconcile,
	           test_fixture_setup,
	           test_job_reconcile,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/issuer-aws/device-csr",
	           TestFixture,
	           &test_case_aws_csr,
	           test_fixture_setup,
	           test_job_aws_issues,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/issuer-aws/key-injected",
	           TestFixture,
	           &test_case_aws_key,
	           test_fixture_setup,
	           test_job_aws_issues,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/issuer-aws/activation-refused",
	           TestFixture,
	           &test_case_aws_act,
	           test_fixture_setup,
	           test_job_aws_activation_refused,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/issuer-aws/issue-refused",
	           TestFixture,
	           &test_case_aws_csr,
	           test_fixture_setup,
	           test_job_aws_issue_refused,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/issuer-aws/unreachable-stops-the-line",
	           TestFixture,
	           &test_case_aws_csr,
	           test_fixture_setup,
	           test_job_aws_unreachable,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/issuer-aws/lost-answers/device-csr",
	           TestFixture,
	           &test_case_aws_lost_csr,
	           test_fixture_setup,
	           test_job_aws_lost_answers,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/issuer-aws/lost-answers/key-injected",
	           TestFixture,
	           &test_case_aws_lost_key,
	           test_fixture_setup,
	           test_job_aws_lost_answers,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/issuer-aws/lost-answers/recorded-kept",
	           TestFixture,
	           &test_case_aws_lost_csr,
	           test_fixture_setup,
	           test_lost_answer_keeps_recorded,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/issuer-aws/key-reused-refused-before-aws",
	           TestFixture,
	           &test_case_aws_dup,
	           test_fixture_setup,
	           test_key_reused_before_aws,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/issuer-aws/one-key-at-once-deleted-at-aws",
	           TestFixture,
	           &test_case_aws_one_key,
	           test_fixture_setup,
	           test_job_aws_one_key_at_once,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/issuer-aws/one-key-at-once-delete-refused",
	           TestFixture,
	           &test_case_aws_one_key_kept,
	           test_fixture_setup,
	           test_job_aws_one_key_delete_refused,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/issuer-aws/offline-refused-before-devices",
	           TestFixture,
	           &test_case_aws_off,
	           test_fixture_setup,
	           test_job_aws_offline,
	           test_fixture_teardown);
	rc = g_test_run();
	kill(peer_pid, SIGTERM);
	waitpid(peer_pid, NULL, 0);
	g_free(peer_url);
	return rc;
}
