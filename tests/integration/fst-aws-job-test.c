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

static gint64
test_sql_int(const gchar *path, const gchar *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	gint64 value;
	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return value;
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

static gchar *
test_start_sim(TestFixture *fx, const gchar *uid)
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
	                                  "ec-p256",
	                                  "--validation",
	                                  "ecdsa-p256",
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
	const gchar *tag = user_data;
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
	                           "key-source=device-csr\n"
	                           "key-types=ec-p256\n"
	                           "[subject]\n"
	                           "cn={model}-{uid}\n"
	                           "o=Fleetstation Test\n"
	                           "[validity]\n"
	                           "days=365\n"
	                           "[trust]\n"
	                           "endpoint=ats\n"
	                           "include-starfield=false\n"
	                           "[aws]\n"
	                           "register=true\n"
	                           "region=us-east-1\n"
	                           "thing-name=line5-{device}\n"
	                           "policy=fleet-line5-%s\n"
	                           "policy-file=policy.json\n"
	                           "with-ca=false\n"
	                           "status=active\n",
	                           tag);
	g_assert_true(g_file_set_contents(fx->profile, contents, -1, &error));
	g_assert_no_error(error);
	fx->sims = g_ptr_array_new_with_free_func(g_object_unref);
	for (guint i = 0; i < TEST_N_DEVICES; i++) {
		fx->uids[i] = g_strdup_printf("AWSJOB-%s-%u", tag, i);
		fx->ports[i] = test_start_sim(fx, fx->uids[i]);
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

/* provisions the fixture's devices with the registering profile */
static FstJob *
test_run_job(TestFixture *fx)
{
	FstJobOptions options = {
	    .workspace = fx->workspace,
	    .profile = fx->profile,
	    .lot = "LOT-AWS",
	    .operator_name = "AWS Tester",
	    .ports = (const gchar *const *)fx->ports,
	};
	FstJob *job = fst_job_new(FST_JOB_KIND_PROVISION, &options);
	g_autoptr(GError) error = NULL;
	const FstJobSummary *summary;

	fst_job_run_async(job, NULL, test_done_cb, fx);
	while (fx->done == NULL)
		g_main_context_iteration(fx->context, TRUE);
	while (g_main_context_iteration(fx->context, FALSE))
		;
	g_assert_true(fst_job_run_finish(job, fx->done, &error));
	g_assert_no_error(error);
	summary = fst_job_get_summary(job);
	g_assert_cmpuint(summary->provisioned, ==, TEST_N_DEVICES);
	g_assert_cmpuint(summary->failed, ==, 0);
	return job;
}

/* AWS has each device's certificate once, on its thing, with the policy */
static void
test_check_registered(TestFixture *fx, const gchar *tag, gint64 registered_before)
{
	g_autoptr(FstAwsCredentials) creds =
	    fst_aws_credentials_new("AKIDEXAMPLE", "testing-secret", NULL, "us-east-1", peer_url);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsIot) iot = fst_aws_iot_new(creds, &error);
	g_autoptr(JsonObject) stats = test_peer_stats();
	g_autofree gchar *policy = g_strdup_printf("fleet-line5-%s", tag);
	JsonObject *registered_ids = json_object_get_object_member(stats, "registered_ids");

	g_assert_no_error(error);
	g_assert_cmpint(json_object_get_int_member(stats, "register_ok") - registered_before,
	                ==,
	                TEST_N_DEVICES);
	g_assert_cmpint(test_sql_int(fx->db_path,
	                             "SELECT count(*) FROM registrations WHERE action = 'register' "
	                             "AND state = 'done' AND remote_id LIKE "
	                             "'arn:aws:iot:us-east-1:%:cert/%'"),
	                ==,
	                TEST_N_DEVICES);
	for (guint i = 0; i < TEST_N_DEVICES; i++) {
		g_autofree gchar *thing = g_strdup_printf("line5-%s", fx->uids[i]);
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
		g_assert_cmpint(
		    json_object_get_int_member_with_default(registered_ids, cert_id + 6, 0), ==, 1);
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
	test_check_registered(fx, user_data, json_object_get_int_member(before, "register_ok"));
}

static void
test_job_offline(TestFixture *fx, gconstpointer user_data)
{
	g_autoptr(JsonObject) before = test_peer_stats();
	g_autoptr(FstJob) job = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *policy = g_strdup_printf("fleet-line5-%s", (const gchar *)user_data);
	g_autofree gchar *out = NULL;
	g_autofree gchar *thing_arg = g_strdup("line5-{uid}");
	gint64 pending = -1;
	gint status = 0;

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
	{
		const gchar *args[] = {g_getenv("FST_STATION"),
		                       "register",
		                       "push",
		                       "--workspace",
		                       fx->workspace,
		                       "--thing-name",
		                       thing_arg,
		                       "--policy",
		                       policy,
		                       "--policy-file",
		                       fx->policy_file,
		                       "--region",
		                       "us-east-1",
		                       NULL};
		g_auto(GStrv) argv = g_strdupv((gchar **)(guintptr)args);
		g_assert_true(g_spawn_sync(
		    NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status, &error));
		g_assert_no_error(error);
		g_test_message("push: %s", out);
		g_assert_true(g_spawn_check_wait_status(status, &error));
		g_assert_no_error(error);
	}
	g_assert_true(fst_job_get_registration_queue(job, &pending, NULL, &error));
	g_assert_cmpint(pending, ==, 0);
	test_check_registered(fx, user_data, json_object_get_int_member(before, "register_ok"));
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
	           "up",
	           test_fixture_setup,
	           test_job_registers,
	           test_fixture_teardown);
	g_test_add("/fst/aws/job/offline-rows-wait-for-push",
	           TestFixture,
	           "down",
	           test_fixture_setup,
	           test_job_offline,
	           test_fixture_teardown);
	rc = g_test_run();
	kill(peer_pid, SIGTERM);
	waitpid(peer_pid, NULL, 0);
	g_free(peer_url);
	return rc;
}
