/* SPDX-License-Identifier: Apache-2.0 */
/* FstJob as a front end drives it: the engine library only (no CLI code is
 * linked), simulated devices on real ptys, a real SQLite file, and the job's
 * signals received on the test's own main context while the work runs in the
 * job's threads */

#include <glib/gstdio.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <signal.h>
#include <string.h>

#include "fst-ca-ops.h"
#include "fst-error.h"
#include "fst-job.h"
#include "fst-openssl-common.h"

typedef struct {
	gchar *workspace;
	GPtrArray *sims;       /* (element-type GSubprocess) */
	GMainContext *context; /* the test's own context, not the global default */
	GThread *thread;       /* the test's thread, where every signal must arrive */
	GPtrArray *progress;   /* (element-type FstProgress) */
	GPtrArray *results;    /* (element-type FstProvisionResult) */
	GAsyncResult *done;    /* (owned) (nullable) */
	guint events_after_done;
	gboolean wrong_thread;
	/* what the handlers do: stop after the first result, abort at a step */
	gboolean stop_after_first;
	gint abort_at_step;
} FstFixture;

static void
fst_fixture_setup(FstFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	fx->workspace = g_dir_make_tmp("fst-job-test-XXXXXX", &error);
	g_assert_no_error(error);
	g_assert_true(fst_station_init_workspace(fx->workspace, "Job Test", &error));
	g_assert_no_error(error);
	fx->sims = g_ptr_array_new_with_free_func(g_object_unref);
	fx->progress = g_ptr_array_new_with_free_func((GDestroyNotify)fst_progress_free);
	fx->results = g_ptr_array_new_with_free_func((GDestroyNotify)fst_provision_result_free);
	fx->context = g_main_context_new();
	fx->thread = g_thread_self();
	fx->abort_at_step = -1;
	g_main_context_push_thread_default(fx->context);
}

static void
fst_fixture_teardown(FstFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", fx->workspace);
	for (guint i = 0; i < fx->sims->len; i++) {
		GSubprocess *p = g_ptr_array_index(fx->sims, i);
		g_subprocess_send_signal(p, SIGTERM);
		g_subprocess_wait(p, NULL, NULL);
	}
	g_main_context_pop_thread_default(fx->context);
	g_main_context_unref(fx->context);
	g_ptr_array_unref(fx->sims);
	g_ptr_array_unref(fx->progress);
	g_ptr_array_unref(fx->results);
	g_clear_object(&fx->done);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(fx->workspace);
}

/* starts an ECC board on a pty and returns the pty */
static gchar *
fst_fixture_start_sim(FstFixture *fx, const gchar *uid, const gchar *const *extra)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(GDataInputStream) in = NULL;
	g_autofree gchar *line = NULL;
	GSubprocess *p;

	g_ptr_array_add(argv, g_strdup(g_getenv("FST_DEVSIM")));
	g_ptr_array_add(argv, g_strdup("--uid"));
	g_ptr_array_add(argv, g_strdup(uid));
	g_ptr_array_add(argv, g_strdup("--storage"));
	g_ptr_array_add(argv, g_strdup_printf("%s/%s.bin", fx->workspace, uid));
	g_ptr_array_add(argv, g_strdup("--key-types"));
	g_ptr_array_add(argv, g_strdup("ec-p256"));
	g_ptr_array_add(argv, g_strdup("--validation"));
	g_ptr_array_add(argv, g_strdup("ecdsa-p256"));
	for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
		g_ptr_array_add(argv, g_strdup(extra[i]));
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
fst_fixture_progress_cb(FstJob *job, FstProgress *progress, gpointer user_data)
{
	FstFixture *fx = user_data;
	if (g_thread_self() != fx->thread)
		fx->wrong_thread = TRUE;
	if (fx->done != NULL)
		fx->events_after_done++;
	g_ptr_array_add(fx->progress, fst_progress_copy(progress));
	if (fx->abort_at_step >= 0 && progress->step == (FstStep)fx->abort_at_step)
		fst_job_abort(job);
}

static void
fst_fixture_finished_cb(FstJob *job, FstProvisionResult *result, gpointer user_data)
{
	FstFixture *fx = user_data;
	if (g_thread_self() != fx->thread)
		fx->wrong_thread = TRUE;
	if (fx->done != NULL)
		fx->events_after_done++;
	g_ptr_array_add(fx->results, fst_provision_result_copy(result));
	if (fx->stop_after_first)
		fst_job_stop(job);
}

static void
fst_fixture_done_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	FstFixture *fx = user_data;
	if (g_thread_self() != fx->thread)
		fx->wrong_thread = TRUE;
	fx->done = g_object_ref(result);
}

/* runs @job to its end on the test's own context */
static gboolean
fst_fixture_run(FstFixture *fx, FstJob *job, GError **error)
{
	g_signal_connect(job, "progress", G_CALLBACK(fst_fixture_progress_cb), fx);
	g_signal_connect(job, "device-finished", G_CALLBACK(fst_fixture_finished_cb), fx);
	g_clear_object(&fx->done);
	fst_job_run_async(job, NULL, fst_fixture_done_cb, fx);
	while (fx->done == NULL)
		g_main_context_iteration(fx->context, TRUE);
	/* anything still queued would be an event after the end */
	while (g_main_context_iteration(fx->context, FALSE))
		;
	g_assert_false(fx->wrong_thread);
	g_assert_cmpuint(fx->events_after_done, ==, 0);
	return fst_job_run_finish(job, fx->done, error);
}

/* the steps one port went through, in the order they arrived */
static GPtrArray *
fst_fixture_steps(FstFixture *fx, const gchar *port)
{
	GPtrArray *steps = g_ptr_array_new();
	for (guint i = 0; i < fx->progress->len; i++) {
		FstProgress *p = g_ptr_array_index(fx->progress, i);
		if (g_strcmp0(p->port, port) == 0)
			g_ptr_array_add(steps, GINT_TO_POINTER(p->step));
	}
	return steps;
}

static void
fst_job_provision_test(FstFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *p1 = fst_fixture_start_sim(fx, "JOB-0001", NULL);
	g_autofree gchar *p2 = fst_fixture_start_sim(fx, "JOB-0002", NULL);
	g_autofree gchar *p3 = fst_fixture_start_sim(fx, "JOB-0003", NULL);
	const gchar *ports[] = {p1, p2, p3, NULL};
	FstJobOptions options = {
	    .workspace = fx->workspace,
	    .profile = "aws-iot-ecc",
	    .lot = "LOT-JOB",
	    .operator_name = "Job Tester",
	    .ports = ports,
	};
	g_autoptr(FstJob) job = fst_job_new(FST_JOB_KIND_PROVISION, &options);
	g_autoptr(GError) error = NULL;
	const FstJobSummary *summary;
	FstDb *db;

	g_assert_true(fst_fixture_run(fx, job, &error));
	g_assert_no_error(error);

	summary = fst_job_get_summary(job);
	g_assert_cmpuint(summary->provisioned, ==, 3);
	g_assert_cmpuint(summary->failed, ==, 0);
	g_assert_false(summary->stopped);
	g_assert_false(summary->aborted);
	g_assert_cmpint(summary->elapsed_us, >, 0);
	g_assert_cmpuint(fx->results->len, ==, 3);

	/* each port's progress arrived in pipeline order and ended done, and its
	 * result came after its last progress report */
	for (guint i = 0; ports[i] != NULL; i++) {
		g_autoptr(GPtrArray) steps = fst_fixture_steps(fx, ports[i]);
		g_assert_cmpuint(steps->len, >=, 6);
		for (guint j = 1; j < steps->len; j++)
			g_assert_cmpint(GPOINTER_TO_INT(steps->pdata[j - 1]),
			                <=,
			                GPOINTER_TO_INT(steps->pdata[j]));
		g_assert_cmpint(GPOINTER_TO_INT(steps->pdata[steps->len - 1]), ==, FST_STEP_DONE);
	}

	/* the database the job opened holds the three with the run's lot and operator */
	db = fst_station_get_db(fst_job_get_station(job));
	for (guint i = 0; i < fx->results->len; i++) {
		FstProvisionResult *r = g_ptr_array_index(fx->results, i);
		g_autoptr(FstDbDevice) dev = fst_db_find_device(db, r->uid, &error);
		g_assert_no_error(error);
		g_assert_no_error(r->error);
		g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
		g_assert_nonnull(dev->cert);
		g_assert_cmpstr(dev->cert->serial_hex, ==, r->serial_hex);
		g_assert_cmpstr(dev->lot, ==, "LOT-JOB");
		g_assert_cmpstr(dev->operator_name, ==, "Job Tester");
	}
}

/* fst_job_stop(): no new device once the first is done; a count run ends */
static void
fst_job_stop_test(FstFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *p1 = fst_fixture_start_sim(fx, "JOB-STOP-1", NULL);
	const gchar *ports[] = {p1, NULL};
	FstJobOptions options = {
	    .workspace = fx->workspace,
	    .profile = "aws-iot-ecc",
	    .ports = ports,
	    .count = 10,
	};
	g_autoptr(FstJob) job = fst_job_new(FST_JOB_KIND_PROVISION, &options);
	g_autoptr(GError) error = NULL;
	const FstJobSummary *summary;

	fx->stop_after_first = TRUE;
	g_assert_true(fst_fixture_run(fx, job, &error));
	g_assert_no_error(error);
	summary = fst_job_get_summary(job);
	g_assert_cmpuint(summary->provisioned, ==, 1);
	g_assert_cmpuint(summary->failed, ==, 0);
	g_assert_true(summary->stopped);
	g_assert_false(summary->aborted);
}

/* fst_job_abort(): the device in flight is recorded failed, never done, and
 * the certificate issued for it stays in the database */
static void
fst_job_abort_test(FstFixture *fx, gconstpointer user_data)
{
	/* the board stops answering during the burn: only an abort ends it quickly */
	const gchar *extra[] = {"--fault-stall-after", "900", NULL};
	g_autofree gchar *p1 = fst_fixture_start_sim(fx, "JOB-ABORT-1", extra);
	const gchar *ports[] = {p1, NULL};
	FstJobOptions options = {
	    .workspace = fx->workspace,
	    .profile = "aws-iot-ecc",
	    .ports = ports,
	};
	g_autoptr(FstJob) job = fst_job_new(FST_JOB_KIND_PROVISION, &options);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	FstProvisionResult *r;

	fx->abort_at_step = FST_STEP_BURN;
	g_assert_true(fst_fixture_run(fx, job, &error));
	g_assert_no_error(error);
	g_assert_true(fst_job_get_summary(job)->aborted);
	g_assert_cmpuint(fst_job_get_summary(job)->failed, ==, 1);
	g_assert_cmpuint(fx->results->len, ==, 1);
	r = g_ptr_array_index(fx->results, 0);
	g_assert_nonnull(r->error);
	g_assert_nonnull(r->serial_hex);

	dev =
	    fst_db_find_device(fst_station_get_db(fst_job_get_station(job)), "JOB-ABORT-1", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, !=, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_nonnull(dev->cert);
	g_assert_cmpstr(dev->cert->serial_hex, ==, r->serial_hex);
}

/* two boards giving the same id on two ports at once (a serial number
 * copied with a firmware image): one is provisioned, the other refused once
 * it has identified, before anything is recorded or burned for it */
static void
fst_job_same_id_test(FstFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *storage2 = g_build_filename(fx->workspace, "clone.bin", NULL);
	const gchar *extra[] = {"--storage", storage2, NULL};
	g_autofree gchar *p1 = fst_fixture_start_sim(fx, "JOB-CLONE", NULL);
	g_autofree gchar *p2 = fst_fixture_start_sim(fx, "JOB-CLONE", extra);
	const gchar *ports[] = {p1, p2, NULL};
	FstJobOptions options = {
	    .workspace = fx->workspace,
	    .profile = "aws-iot-ecc",
	    .ports = ports,
	};
	g_autoptr(FstJob) job = fst_job_new(FST_JOB_KIND_PROVISION, &options);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	FstDbCertFilter filter = {.device_uid = "JOB-CLONE"};
	FstProvisionResult *passed = NULL;
	FstProvisionResult *refused = NULL;
	FstDb *db;

	g_assert_true(fst_fixture_run(fx, job, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(fst_job_get_summary(job)->provisioned, ==, 1);
	g_assert_cmpuint(fst_job_get_summary(job)->failed, ==, 1);
	g_assert_cmpuint(fx->results->len, ==, 2);
	for (guint i = 0; i < fx->results->len; i++) {
		FstProvisionResult *r = g_ptr_array_index(fx->results, i);
		if (r->error == NULL)
			passed = r;
		else
			refused = r;
	}
	g_assert_nonnull(passed);
	g_assert_nonnull(refused);
	g_assert_error(refused->error, FST_ERROR, FST_ERROR_BUSY);
	g_assert_cmpint(refused->step, ==, FST_STEP_IDENTIFY);
	g_assert_cmpstr(refused->uid, ==, "JOB-CLONE");
	g_assert_null(refused->serial_hex);
	g_test_message("%s", refused->error->message);
	g_assert_nonnull(strstr(refused->error->message, passed->port));
	g_assert_nonnull(strstr(refused->error->message, refused->port));
	g_assert_nonnull(strstr(refused->error->message, "same id"));

	/* one device, provisioned, with the one certificate of the board that
	 * passed: nothing was issued for the other */
	db = fst_station_get_db(fst_job_get_station(job));
	dev = fst_db_find_device(db, "JOB-CLONE", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_cmpstr(dev->port, ==, passed->port);
	certs = fst_db_list_certificates(db, &filter, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 1);
	g_assert_cmpstr(dev->cert->serial_hex, ==, passed->serial_hex);

	/* the device's history shows the board refused, on its port, once
	 * (recorded with the device when the first board's record came first,
	 * else with no device and found by its id) */
	{
		g_autoptr(GPtrArray) events = fst_db_list_events(db, dev->id, &error);
		guint busy = 0;
		g_assert_no_error(error);
		for (guint i = 0; i < events->len; i++) {
			FstDbEvent *ev = g_ptr_array_index(events, i);
			if (g_strcmp0(ev->outcome, "busy") != 0)
				continue;
			busy++;
			g_assert_cmpstr(ev->step, ==, "identify");
			g_assert_cmpstr(ev->detail, ==, refused->error->message);
		}
		g_assert_cmpuint(busy, ==, 1);
	}
}

/* three boards whose key generator gives them one key (a seed fixed in
 * the firmware image), on three ports at once: the first recorded is
 * provisioned; the other two fail at issue, before any byte is burned,
 * with nothing of their certificates recorded, the error naming the board
 * that holds the key */
static void
fst_job_same_key_test(FstFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *key_path = g_build_filename(fx->workspace, "fixed-key.pem", NULL);
	const gchar *extra[] = {"--fault-fixed-key", key_path, NULL};
	g_autoptr(EVP_PKEY) key = EVP_EC_gen("P-256");
	g_autoptr(BIO) bio = BIO_new_file(key_path, "w");
	g_autofree gchar *p1 = NULL;
	g_autofree gchar *p2 = NULL;
	g_autofree gchar *p3 = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstJob) job = NULL;
	FstProvisionResult *passed = NULL;
	guint n_refused = 0;
	FstDb *db;

	g_assert_nonnull(key);
	g_assert_nonnull(bio);
	g_assert_cmpint(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
	g_clear_pointer(&bio, BIO_free);
	p1 = fst_fixture_start_sim(fx, "JOB-KEY-1", extra);
	p2 = fst_fixture_start_sim(fx, "JOB-KEY-2", extra);
	p3 = fst_fixture_start_sim(fx, "JOB-KEY-3", extra);
	{
		const gchar *ports[] = {p1, p2, p3, NULL};
		FstJobOptions options = {
		    .workspace = fx->workspace,
		    .profile = "aws-iot-ecc",
		    .ports = ports,
		};
		job = fst_job_new(FST_JOB_KIND_PROVISION, &options);
		g_assert_true(fst_fixture_run(fx, job, &error));
	}
	g_assert_no_error(error);
	g_assert_cmpuint(fst_job_get_summary(job)->provisioned, ==, 1);
	g_assert_cmpuint(fst_job_get_summary(job)->failed, ==, 2);
	g_assert_false(fst_job_get_summary(job)->halted);
	for (guint i = 0; i < fx->results->len; i++) {
		FstProvisionResult *r = g_ptr_array_index(fx->results, i);
		if (r->error == NULL)
			passed = r;
	}
	g_assert_nonnull(passed);
	db = fst_station_get_db(fst_job_get_station(job));
	for (guint i = 0; i < fx->results->len; i++) {
		FstProvisionResult *r = g_ptr_array_index(fx->results, i);
		g_autoptr(GPtrArray) steps = NULL;
		g_autoptr(GPtrArray) certs = NULL;
		g_autoptr(FstDbDevice) dev = NULL;
		FstDbCertFilter filter = {.device_uid = r->uid};

		if (r == passed)
			continue;
		n_refused++;
		g_test_message("%s: %s", r->uid, r->error->message);
		g_assert_error(r->error, FST_ERROR, FST_ERROR_KEY_REUSED);
		g_assert_cmpint(r->step, ==, FST_STEP_ISSUE);
		g_assert_nonnull(strstr(r->error->message, "already certified for device"));
		g_assert_nonnull(strstr(r->error->message, passed->uid));
		g_assert_null(r->serial_hex);
		steps = fst_fixture_steps(fx, r->port);
		g_assert_false(g_ptr_array_find(steps, GINT_TO_POINTER(FST_STEP_BURN), NULL));
		dev = fst_db_find_device(db, r->uid, &error);
		g_assert_no_error(error);
		g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_FAILED);
		g_assert_null(dev->cert);
		certs = fst_db_list_certificates(db, &filter, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(certs->len, ==, 0);
		/* the steps the station saw before the refusal are recorded
		 * with it */
		{
			g_autoptr(GPtrArray) events = fst_db_list_events(db, dev->id, &error);
			g_autoptr(GString) seen = g_string_new(NULL);
			g_assert_no_error(error);
			for (guint k = 0; k < events->len; k++) {
				FstDbEvent *ev = g_ptr_array_index(events, k);
				g_string_append_printf(
				    seen, "%s%s %s", k > 0 ? "," : "", ev->step, ev->outcome);
			}
			g_assert_cmpstr(seen->str,
			                ==,
			                "identify ok,plan ok,keygen ok,issue ok,issue key-reused,"
			                "failed failed");
		}
	}
	g_assert_cmpuint(n_refused, ==, 2);

	/* one of them, set aside and flashed with a firmware whose keys are
	 * random, comes back under its id and is provisioned */
	{
		FstProvisionResult *first = g_ptr_array_index(fx->results, 0);
		g_autofree gchar *uid = g_strdup(
		    ((FstProvisionResult *)g_ptr_array_index(fx->results, first == passed ? 1 : 0))
		        ->uid);
		g_autofree gchar *storage = g_build_filename(fx->workspace, "reflashed.bin", NULL);
		const gchar *again[] = {"--storage", storage, NULL};
		g_autofree gchar *port = fst_fixture_start_sim(fx, uid, again);
		const gchar *ports[] = {port, NULL};
		FstJobOptions options = {
		    .workspace = fx->workspace,
		    .profile = "aws-iot-ecc",
		    .ports = ports,
		};
		g_autoptr(FstJob) retry = fst_job_new(FST_JOB_KIND_PROVISION, &options);
		g_autoptr(FstDbDevice) dev = NULL;

		g_clear_object(&job);
		g_ptr_array_set_size(fx->results, 0);
		g_assert_true(fst_fixture_run(fx, retry, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(fst_job_get_summary(retry)->provisioned, ==, 1);
		db = fst_station_get_db(fst_job_get_station(retry));
		dev = fst_db_find_device(db, uid, &error);
		g_assert_no_error(error);
		g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
		g_assert_nonnull(dev->cert);
	}
}

/* one key on two boards, one sending its point uncompressed and the other
 * compressed (two different SPKIs, one key): the second board recorded is
 * refused as the three boards of one key are */
static void
fst_job_same_key_compressed_test(FstFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *plain_path = g_build_filename(fx->workspace, "plain-key.pem", NULL);
	g_autofree gchar *packed_path = g_build_filename(fx->workspace, "packed-key.pem", NULL);
	const gchar *plain_args[] = {"--fault-fixed-key", plain_path, NULL};
	const gchar *packed_args[] = {"--fault-fixed-key", packed_path, NULL};
	g_autoptr(EVP_PKEY) key = EVP_EC_gen("P-256");
	g_autoptr(EVP_PKEY) packed = NULL;
	g_autofree gchar *p1 = NULL;
	g_autofree gchar *p2 = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstJob) job = NULL;
	guint n_refused = 0;
	guint n_packed = 0;
	FstDb *db;

	g_assert_nonnull(key);
	packed = EVP_PKEY_dup(key);
	g_assert_cmpint(
	    EVP_PKEY_set_utf8_string_param(packed,
	                                   OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	                                   OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED),
	    ==,
	    1);
	for (guint i = 0; i < 2; i++) {
		g_autoptr(BIO) bio = BIO_new_file(i == 0 ? plain_path : packed_path, "w");
		g_assert_nonnull(bio);
		g_assert_cmpint(
		    PEM_write_bio_PrivateKey(bio, i == 0 ? key : packed, NULL, NULL, 0, NULL, NULL),
		    ==,
		    1);
	}
	p1 = fst_fixture_start_sim(fx, "JOB-PLAIN-KEY", plain_args);
	p2 = fst_fixture_start_sim(fx, "JOB-PACKED-KEY", packed_args);
	{
		const gchar *ports[] = {p1, p2, NULL};
		FstJobOptions options = {
		    .workspace = fx->workspace,
		    .profile = "aws-iot-ecc",
		    .ports = ports,
		};
		job = fst_job_new(FST_JOB_KIND_PROVISION, &options);
		g_assert_true(fst_fixture_run(fx, job, &error));
	}
	g_assert_no_error(error);
	g_assert_cmpuint(fst_job_get_summary(job)->provisioned, ==, 1);
	g_assert_cmpuint(fst_job_get_summary(job)->failed, ==, 1);
	db = fst_station_get_db(fst_job_get_station(job));
	for (guint i = 0; i < fx->results->len; i++) {
		FstProvisionResult *r = g_ptr_array_index(fx->results, i);
		g_autoptr(FstDbDevice) dev = fst_db_find_device(db, r->uid, &error);
		g_assert_no_error(error);
		if (r->error == NULL) {
			/* the certificate carries the point as the board sent it */
			const guchar *p = g_bytes_get_data(dev->cert->der, NULL);
			g_autoptr(X509) x509 =
			    d2i_X509(NULL, &p, (long)g_bytes_get_size(dev->cert->der));
			const guchar *point = NULL;
			int point_len = 0;
			g_assert_nonnull(x509);
			g_assert_cmpint(
			    X509_PUBKEY_get0_param(
			        NULL, &point, &point_len, NULL, X509_get_X509_PUBKEY(x509)),
			    ==,
			    1);
			if (point[0] != 0x04)
				n_packed++;
			g_assert_cmpint(
			    point[0] != 0x04, ==, g_str_equal(r->uid, "JOB-PACKED-KEY"));
			continue;
		}
		n_refused++;
		g_test_message("%s: %s", r->uid, r->error->message);
		g_assert_error(r->error, FST_ERROR, FST_ERROR_KEY_REUSED);
		g_assert_nonnull(strstr(r->error->message, "already certified for device"));
		g_assert_nonnull(strstr(r->error->message,
		                        g_str_equal(r->uid, "JOB-PLAIN-KEY") ? "JOB-PACKED-KEY"
		                                                             : "JOB-PLAIN-KEY"));
		g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_FAILED);
		g_assert_null(dev->cert);
	}
	g_assert_cmpuint(n_refused, ==, 1);
	g_test_message("the board provisioned sent its point %s",
	               n_packed > 0 ? "compressed" : "uncompressed");
}

/* provisions one new board with the demo profile, through @station (the
 * caller's, kept open) or, when it is %NULL, a station the job opens */
static void
fst_fixture_provision_one(FstFixture *fx, const gchar *uid, FstStation *station)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *port = fst_fixture_start_sim(fx, uid, NULL);
	const gchar *ports[] = {port, NULL};
	FstJobOptions options = {
	    .workspace = fx->workspace,
	    .profile = "aws-iot-ecc",
	    .ports = ports,
	};
	g_autoptr(FstJob) job = fst_job_new(FST_JOB_KIND_PROVISION, &options);

	if (station != NULL)
		fst_job_set_station(job, station);
	g_assert_true(fst_fixture_run(fx, job, &error));
	g_assert_no_error(error);
	if (station != NULL)
		g_assert_true(fst_job_get_station(job) == station);
	g_assert_cmpuint(fst_job_get_summary(job)->provisioned, ==, 1);
	/* the result holds the job, and the job its station */
	g_clear_object(&fx->done);
}

/* a station kept open by the caller serves several jobs, one after another */
static void
fst_job_shared_station_test(FstFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstStation) station = fst_station_open(fx->workspace, &error);
	const gchar *uids[] = {"JOB-SHARED-1", "JOB-SHARED-2"};

	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(uids); i++)
		fst_fixture_provision_one(fx, uids[i], station);
	/* the jobs are gone; the caller's station is still open and sees both */
	for (guint i = 0; i < G_N_ELEMENTS(uids); i++) {
		g_autoptr(FstDbDevice) dev =
		    fst_db_find_device(fst_station_get_db(station), uids[i], &error);
		g_assert_no_error(error);
		g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	}
}

/* what another process (the sqlite3 shell, read-write) reads in @workspace's
 * database: one number */
static gint64
fst_fixture_count_elsewhere(FstFixture *fx, const gchar *sql)
{
	g_auto(GStrv) argv = g_new0(gchar *, 4);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint status = 0;

	argv[0] = g_strdup("sqlite3");
	argv[1] = g_build_filename(fx->workspace, "station.db", NULL);
	argv[2] = g_strdup(sql);
	g_assert_true(g_spawn_sync(
	    NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(err, ==, "");
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	return g_ascii_strtoll(out, NULL, 10);
}

/* a run that names its operator records that operator alone: the station
 * it opens does not record the login name first */
static void
fst_job_named_operator_test(FstFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *port = fst_fixture_start_sim(fx, "JOB-OPERATOR", NULL);
	const gchar *ports[] = {port, NULL};
	FstJobOptions options = {
	    .workspace = fx->workspace,
	    .profile = "aws-iot-ecc",
	    .ports = ports,
	    .operator_name = "Ana Lima",
	};
	g_autoptr(FstJob) job = fst_job_new(FST_JOB_KIND_PROVISION, &options);

	g_assert_true(fst_fixture_run(fx, job, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(fst_job_get_summary(job)->provisioned, ==, 1);
	g_clear_object(&job);
	g_assert_cmpint(fst_fixture_count_elsewhere(fx, "SELECT count(*) FROM operators"), ==, 1);
	g_assert_cmpint(
	    fst_fixture_count_elsewhere(fx,
	                                "SELECT count(*) FROM devices d JOIN operators o ON "
	                                "o.id = d.operator_id WHERE o.name = 'Ana Lima'"),
	    ==,
	    1);
}

/*
 * The window's station stays open while a job opens a station of its own: a
 * command run meanwhile by another process, which opens the database and
 * closes it, leaves the station's write-ahead log in place (it cannot take
 * the file for itself), and the devices the window's station records next
 * are in the log every other process reads, not in a deleted file.
 */
static void
fst_job_station_other_process_test(FstFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstStation) station = fst_station_open(fx->workspace, &error);
	g_autofree gchar *wal = g_build_filename(fx->workspace, "station.db-wal", NULL);
	const gchar *uids[] = {"JOB-OWN-STATION", "JOB-WINDOW-STATION"};

	g_assert_no_error(error);
	for (guint i = 0; i < G_N_ELEMENTS(uids); i++) {
		fst_fixture_provision_one(fx, uids[i], i > 0 ? station : NULL);
		g_assert_cmpint(fst_fixture_count_elsewhere(
		                    fx, "SELECT count(*) FROM devices WHERE state = 'provisioned'"),
		                ==,
		                i + 1);
		g_assert_true(g_file_test(wal, G_FILE_TEST_EXISTS));
	}
}

static void
fst_fixture_warning_cb(FstJob *job, const gchar *kind, const gchar *text, gpointer user_data)
{
	GPtrArray *warnings = user_data;
	g_ptr_array_add(warnings, g_strdup_printf("%s: %s", kind, text));
}

/* the station's own warnings reach the caller as FstJob::warning, each of
 * its kind: the issuing CA ending within the warning days (its certificate
 * made to end in 20), and AWS IoT registration that cannot start (no
 * credentials) */
static void
fst_job_warnings_test(FstFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *ws = g_build_filename(fx->workspace, "short-ca", NULL);
	g_autofree gchar *profile = g_build_filename(ws, "registering.profile", NULL);
	g_autofree gchar *template = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *p1 = fst_fixture_start_sim(fx, "WARN-0001", NULL);
	const gchar *ports[] = {p1, NULL};
	FstCaOpsCreate create = {.organization = "Warning Test", .days = 20, .pathlen = -1};
	FstJobOptions options = {
	    .workspace = ws,
	    .profile = profile,
	    .lot = "LOT-WARN",
	    .ports = ports,
	};
	g_autoptr(FstJob) job = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *subject = NULL;

	g_setenv("FLEETSTATION_CA_PASSPHRASE", "warning test pass", TRUE);
	g_setenv("AWS_CONFIG_FILE", "/nonexistent", TRUE);
	g_setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", TRUE);
	g_unsetenv("AWS_ACCESS_KEY_ID");
	g_unsetenv("AWS_SECRET_ACCESS_KEY");
	g_assert_true(fst_station_init_workspace(ws, NULL, &error));
	g_assert_no_error(error);
	subject = fst_ca_ops_create(ws, NULL, &create, NULL, &error);
	g_assert_no_error(error);
	{
		g_autofree gchar *path = g_build_filename(
		    g_getenv("FST_TEMPLATES_DIR"), "profiles", "aws-iot-ecc.profile", NULL);
		g_auto(GStrv) parts = NULL;
		g_assert_true(g_file_get_contents(path, &template, NULL, &error));
		/* certificates of 10 days, within the CA's 20 */
		parts = g_strsplit(template, "days=3650", 2);
		g_assert_cmpuint(g_strv_length(parts), ==, 2);
		text = g_strdup_printf(
		    "%sdays=10%s\n[aws]\nregister=true\nregion=us-east-1\n", parts[0], parts[1]);
		g_assert_true(g_file_set_contents(profile, text, -1, &error));
	}
	/* what the engine logs of them, in this order */
	g_test_expect_message(
	    "FstCa", G_LOG_LEVEL_WARNING, "the issuing CA ends on *renew it soon*");
	g_test_expect_message(
	    "FstJob", G_LOG_LEVEL_WARNING, "AWS IoT registration not started*no AWS credentials*");
	job = fst_job_new(FST_JOB_KIND_PROVISION, &options);
	g_signal_connect(job, "warning", G_CALLBACK(fst_fixture_warning_cb), warnings);
	if (!fst_fixture_run(fx, job, &error))
		g_error("the run failed: %s", error->message);
	g_test_assert_expected_messages();
	g_assert_cmpuint(fst_job_get_summary(job)->provisioned, ==, 1);

	for (guint i = 0; i < warnings->len; i++)
		g_test_message("%s", (const gchar *)g_ptr_array_index(warnings, i));
	g_assert_cmpuint(warnings->len, ==, 2);
	g_assert_true(g_str_has_prefix(g_ptr_array_index(warnings, 0),
	                               "registration: AWS IoT registration not started, the "
	                               "certificates wait in the registration queue"));
	g_assert_nonnull(strstr(g_ptr_array_index(warnings, 0), "no AWS credentials"));
	g_assert_true(
	    g_str_has_prefix(g_ptr_array_index(warnings, 1), "ca-end: the issuing CA ends on "));
	/* 20 days less the moments since the CA was made */
	g_assert_true(g_str_has_suffix(g_ptr_array_index(warnings, 1),
	                               ", in 19 days: renew it soon (`fleetstation ca renew`)") ||
	              g_str_has_suffix(g_ptr_array_index(warnings, 1),
	                               ", in 20 days: renew it soon (`fleetstation ca renew`)"));

	/* renewed while a station runs with the CA before: its warning says how
	 * to issue with the new one */
	g_test_expect_message("FstCa", G_LOG_LEVEL_WARNING, "the issuing CA ends on *");
	{
		g_autoptr(FstStation) station = fst_station_open(ws, &error);
		FstCaOpsRenew renew = {0};
		g_autofree gchar *retired = NULL;
		g_autofree gchar *renewed = NULL;
		g_autofree gchar *before = NULL;
		g_autofree gchar *after = NULL;
		gint64 looked_us;

		g_assert_no_error(error);
		g_test_assert_expected_messages();
		g_setenv("FST_TEST_CA_CHECK_MS", "3000", TRUE);
		looked_us = g_get_monotonic_time();
		before = fst_station_get_ca_warning(station, NULL);
		g_assert_nonnull(strstr(before, "renew it soon"));
		renewed = fst_ca_ops_renew(ws, NULL, &renew, &retired, &error);
		g_assert_no_error(error);
		g_assert_true(g_str_has_prefix(retired, FST_CA_STORE_RETIRED_PREFIX));
		/* the station reads ca/ once per check interval (here 3 s), not at
		 * each look (the GUI's, every 3 s) */
		{
			g_autofree gchar *cached = fst_station_get_ca_warning(station, NULL);
			if (g_get_monotonic_time() - looked_us < 3 * G_USEC_PER_SEC)
				g_assert_nonnull(strstr(cached, "renew it soon"));
		}
		while (g_get_monotonic_time() - looked_us < 3 * G_USEC_PER_SEC + 100000)
			g_usleep(50000);
		after = fst_station_get_ca_warning(station, NULL);
		g_unsetenv("FST_TEST_CA_CHECK_MS");
		g_assert_true(
		    g_str_has_prefix(after, "the issuing CA this station unlocked ends on "));
		g_assert_true(g_str_has_suffix(
		    after,
		    "; the workspace's issuing CA was renewed since: start the station again (the "
		    "watch, or close and open the window) to issue with the new one"));
	}
	/* a station started since issues with the new CA, and says nothing of its end */
	{
		g_autoptr(FstStation) station = fst_station_open(ws, &error);
		g_autofree gchar *warning = NULL;
		g_assert_no_error(error);
		warning = fst_station_get_ca_warning(station, NULL);
		g_assert_null(warning);
	}
	g_unsetenv("FLEETSTATION_CA_PASSPHRASE");
	g_unsetenv("AWS_CONFIG_FILE");
	g_unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

/* a run that cannot start fails the job, with no device signal */
static void
fst_job_no_workspace_test(FstFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *missing = g_build_filename(fx->workspace, "nowhere", NULL);
	const gchar *ports[] = {"/dev/null", NULL};
	FstJobOptions options = {
	    .workspace = missing,
	    .profile = "aws-iot-ecc",
	    .ports = ports,
	};
	g_autoptr(FstJob) job = fst_job_new(FST_JOB_KIND_PROVISION, &options);
	g_autoptr(GError) error = NULL;

	g_assert_false(fst_fixture_run(fx, job, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_cmpuint(fx->progress->len, ==, 0);
	g_assert_cmpuint(fx->results->len, ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/fst/job/provision/signals-on-callers-context",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_job_provision_test,
	           fst_fixture_teardown);
	g_test_add("/fst/job/warnings/ca-end-and-registration",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_job_warnings_test,
	           fst_fixture_teardown);
	g_test_add("/fst/job/stop/finishes-in-flight",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_job_stop_test,
	           fst_fixture_teardown);
	g_test_add("/fst/job/abort/records-failed",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_job_abort_test,
	           fst_fixture_teardown);
	g_test_add("/fst/job/provision/same-id-on-two-ports",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_job_same_id_test,
	           fst_fixture_teardown);
	g_test_add("/fst/job/provision/same-key-compressed-on-another-board",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_job_same_key_compressed_test,
	           fst_fixture_teardown);
	g_test_add("/fst/job/provision/same-key-on-three-boards",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_job_same_key_test,
	           fst_fixture_teardown);
	g_test_add("/fst/job/station/shared-by-jobs",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_job_shared_station_test,
	           fst_fixture_teardown);
	g_test_add("/fst/job/operator/named-operator-only",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_job_named_operator_test,
	           fst_fixture_teardown);
	g_test_add("/fst/job/station/other-process-leaves-the-log",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_job_station_other_process_test,
	           fst_fixture_teardown);
	g_test_add("/fst/job/error/no-workspace",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_job_no_workspace_test,
	           fst_fixture_teardown);
	return g_test_run();
}
