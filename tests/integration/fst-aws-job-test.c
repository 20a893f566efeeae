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
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>

#include "fst-aws-credentials.h"
#include "fst-aws-iot.h"
#include "fst-error.h"
#include "fst-db.h"
#include "fst-job.h"

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
} TestCase;

static const TestCase test_case_up = {"up", "device-csr", "ec-p256", "station", FALSE};
static const TestCase test_case_down = {"down", "device-csr", "ec-p256", "station", FALSE};
static const TestCase test_case_override = {
    "ovr", "device-csr", "ec-p256", "station", FALSE, "ovr5-{uid}"};
static const TestCase test_case_revoke = {"rev", "device-csr", "ec-p256", "station", FALSE};
static const TestCase test_case_aws_csr = {"awscsr", "device-csr", "ec-p256", "aws", FALSE};
static const TestCase test_case_aws_key = {
    "awskey", "station-generated", "rsa-2048", "aws", TRUE, NULL, TRUE};
static const TestCase test_case_aws_off = {"awsoff", "device-csr", "ec-p256", "aws", FALSE};
static const TestCase test_case_aws_act = {
    "awsact", "device-csr", "ec-p256", "aws", FALSE, NULL, TRUE};

static gchar *
test_start_sim(TestFixture *fx, const TestCase *tc, const gchar *uid)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GDataInputStream) in = NULL;
	g_autofree gchar *storage = g_strdup_printf("%s/%s.bin", fx->workspace, uid);
	g_autofree gchar *line = NULL;
	GSubprocess *p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE,
	                                  &error,
	                                  g_getenv("FST_DEVSIM"),
	                                  "--uid",
	                                  uid,
	                                  "--storage",
	                                  storage,
	                                  "--key-types",
	                                  tc->key_type,
	                                  "--validation",
	                                  "ecdsa-p256",
	                                  tc->injection_only ? "--key-injection-only" : NULL,
	                                  NULL);
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
	                           "with-ca=false\n"
	                           "status=active\n",
	                           tc->key_source,
	                           tc->key_type,
	                           tc->issuer,
	                           tc->no_register ? "false" : "true",
	                           tag);
	g_assert_true(g_file_set_contents(fx->profile, contents, -1, &error));
	g_assert_no_error(error);
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
	g_autoptr(FstAwsCredentials) creds =
	    fst_aws_credentials_new("AKIDEXAMPLE", "testing-secret", NULL, "us-east-1", peer_url);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsIot) iot = fst_aws_iot_new(creds, &error);
	g_autoptr(JsonObject) stats = test_peer_stats();
	g_autofree gchar *policy = g_strdup_printf("fleet-line5-%s", tag);
	JsonObject *registered_ids = json_object_get_object_member(stats, "registered_ids");

	g_assert_no_error(error);
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

static void
test_job_offline(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(JsonObject) before = test_peer_stats();
	g_autoptr(FstJob) job = NULL;
	g_autoptr(GError) error = NULL;
	const TestCase *tc = user_data;
	g_autofree gchar *out = NULL;
	g_autoptr(GPtrArray) args = g_ptr_array_new();
	gint64 pending = -1;

	/* nothing listens there: every AWS call fails at once */
	test_aws_env("http://127.0.0.1:9");
	job = test_run_job(fx);
	g_assert_true(fst_job_get_registration_queue(job, &pending, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(pending, ==, TEST_N_DEVICES);
	g_assert_cmpint(
	    test_sql_int(fx->db_path, "SELECT count(*) FROM certificates"), ==, TEST_N_DEVICES);

	/* then `register push`, with AWS back, drains the queue once the rows
	 * the worker put off are due again */
	test_aws_env(peer_url);
	while (test_sql_int(fx->db_path,
	                    "SELECT count(*) FROM registrations WHERE next_attempt_at > "
	                    "CAST(strftime('%s', 'now') AS INTEGER) * 1000000") > 0)
		g_usleep(100000);
	/* what each certificate gets comes from its profile's [aws] group (the
	 * file, which is not in the templates); an option wins over it */
	{
		const gchar *base[] = {"register",
		                       "push",
		                       "--workspace",
		                       fx->workspace,
		                       "--profile",
		                       fx->profile,
		                       "--region",
		                       "us-east-1"};
		for (guint i = 0; i < G_N_ELEMENTS(base); i++)
			g_ptr_array_add(args, (gpointer)(guintptr)base[i]);
		if (tc->thing_name != NULL) {
			g_ptr_array_add(args, (gpointer)(guintptr) "--thing-name");
			g_ptr_array_add(args, (gpointer)(guintptr)tc->thing_name);
		}
		g_ptr_array_add(args, NULL);
		out = test_cli((const gchar *const *)args->pdata);
	}
	g_assert_true(fst_job_get_registration_queue(job, &pending, NULL, &error));
	g_assert_cmpint(pending, ==, 0);
	test_check_registered(
	    fx, tc->tag, tc->thing_name != NULL ? "ovr5-" : "line5-", before, FALSE);
}

/* `fleetstation revoke` of the first device's certificate, then `register
 * push`: AWS has it REVOKED (UpdateCertificate), the others stay ACTIVE */
static void
test_revoke_first_at_aws(TestFixture *fx)
{
	g_autoptr(FstAwsCredentials) creds =
	    fst_aws_credentials_new("AKIDEXAMPLE", "testing-secret", NULL, "us-east-1", peer_url);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsIot) iot = fst_aws_iot_new(creds, &error);
	g_autoptr(FstJob) job = NULL;
	g_autofree gchar *sql = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *out = NULL;

	g_assert_no_error(error);
	{
		g_autoptr(FstDb) db = fst_db_open(fx->db_path, &error);
		g_autoptr(FstDbCert) cert = NULL;
		g_assert_no_error(error);
		cert = fst_db_get_active_certificate(db, fx->uids[0], &error);
		g_assert_no_error(error);
		serial = g_strdup(cert->serial_hex);
	}
	{
		const gchar *args[] = {"revoke",
		                       serial,
		                       "--reason",
		                       "keyCompromise",
		                       "--workspace",
		                       fx->workspace,
		                       NULL};
		out = test_cli(args);
		g_assert_nonnull(strstr(out, "queued to be revoked where it is registered (1)"));
	}
	{
		const gchar *args[] = {"register",
		                       "push",
		                       "--workspace",
		                       fx->workspace,
		                       "--region",
		                       "us-east-1",
		                       NULL};
		g_free(out);
		out = test_cli(args);
		g_assert_nonnull(strstr(out, "revoked 1"));
	}
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
	g_autoptr(FstAwsCredentials) creds =
	    fst_aws_credentials_new("AKIDEXAMPLE", "testing-secret", NULL, "us-east-1", peer_url);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsIot) iot = fst_aws_iot_new(creds, &error);
	g_autoptr(JsonObject) after = test_peer_stats();

	g_assert_no_error(error);
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
	/* the key AWS made went to the device only */
	g_assert_cmpint(test_sql_int(fx->db_path, "SELECT count(*) FROM key_escrows"), ==, 0);
	g_assert_false(test_file_has(fx->db_path, "PRIVATE KEY"));
	g_assert_false(test_file_has(wal, "PRIVATE KEY"));
	/* revoked where AWS issued it */
	g_clear_object(&job);
	test_revoke_first_at_aws(fx);
}

/* AWS refuses the activation: each device fails before anything is burned,
 * with an error that says so; its certificate, recorded, is revoked in the
 * database and stays INACTIVE at AWS, where nothing can connect with it */
static void
test_job_aws_activation_refused(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(FstAwsCredentials) creds =
	    fst_aws_credentials_new("AKIDEXAMPLE", "testing-secret", NULL, "us-east-1", peer_url);
	g_autoptr(FstAwsIot) iot = NULL;
	g_autoptr(FstJob) job = NULL;
	g_autoptr(GError) error = NULL;
	const FstJobSummary *summary;

	test_aws_env(peer_url);
	test_peer_faults("{\"refuse_op\": \"PUT /certificates\"}");
	g_assert_true(test_run_job_full(fx, &job, &error));
	test_peer_faults("{\"refuse_op\": null}");
	g_assert_no_error(error);
	summary = fst_job_get_summary(job);
	g_assert_cmpuint(summary->provisioned, ==, 0);
	g_assert_cmpuint(summary->failed, ==, TEST_N_DEVICES);

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
	/* at the issue step, which the GUI reads as AWS's failure, not the board's */
	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM event_steps WHERE step = 'issue' AND "
	                             "outcome = 'permission-denied'"),
	                ==,
	                TEST_N_DEVICES);
	iot = fst_aws_iot_new(creds, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < TEST_N_DEVICES; i++) {
		g_autofree gchar *status = test_aws_status(fx, iot, i);
		g_assert_cmpstr(status, !=, "ACTIVE");
	}
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
