/* The provisioning pipeline against simulated devices on real ptys, with a real
 * SQLite file and the real CA: the happy path and the ways a device fails */

#include <glib/gstdio.h>
#include <signal.h>

#include "fst-error.h"
#include "fst-fsp-device.h"
#include "fst-pipeline.h"
#include "fst-serial-transport.h"
#include "fst-station.h"

typedef struct {
	gchar *workspace;
	FstStation *station;
	FstProfile *profile;
	GPtrArray *sims; /* (element-type GSubprocess) */
} FstFixture;

static void
fst_fixture_setup(FstFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	fx->workspace = g_dir_make_tmp("fst-pipeline-test-XXXXXX", &error);
	g_assert_no_error(error);
	g_assert_true(fst_station_init_workspace(fx->workspace, "Pipeline Test", &error));
	g_assert_no_error(error);
	fx->station = fst_station_open(fx->workspace, &error);
	g_assert_no_error(error);
	fx->profile = fst_station_load_profile(fx->station, "aws-iot-ecc", &error);
	g_assert_no_error(error);
	fx->sims = g_ptr_array_new_with_free_func(g_object_unref);
}

static void
fst_fixture_teardown(FstFixture *fx, gconstpointer user_data)
{
	for (guint i = 0; i < fx->sims->len; i++) {
		GSubprocess *p = g_ptr_array_index(fx->sims, i);
		g_subprocess_send_signal(p, SIGTERM);
		g_subprocess_wait(p, NULL, NULL);
	}
	g_ptr_array_unref(fx->sims);
	fst_profile_free(fx->profile);
	fst_station_free(fx->station);
	g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", fx->workspace);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(fx->workspace);
}

/* starts a simulator with extra options and returns its pty */
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
	/* an ECC-only board, as the demo's */
	g_ptr_array_add(argv, g_strdup("--key-types"));
	g_ptr_array_add(argv, g_strdup("ec-p256"));
	g_ptr_array_add(argv, g_strdup("--validation"));
	g_ptr_array_add(argv, g_strdup("ecdsa-p256"));
	for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
		g_ptr_array_add(argv, g_strdup(extra[i]));
	g_ptr_array_add(argv, NULL);
	p = g_subprocess_newv((const gchar *const *)argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
	g_assert_no_error(error);
	g_ptr_array_add(fx->sims, p);
	in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(p));
	line = g_data_input_stream_read_line(in, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(line, "READY /"));
	return g_strdup(line + 6);
}

static FstProvisionResult *
fst_fixture_provision(FstFixture *fx, const gchar *port)
{
	g_autoptr(FstTransport) transport = fst_serial_transport_new(port, 0);
	g_autoptr(FstDevice) device = fst_fsp_device_new(transport);
	return fst_pipeline_provision(fx->station, fx->profile, device, NULL, NULL, NULL);
}

static void
fst_pipeline_ok_test(FstFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *port = fst_fixture_start_sim(fx, "PT-OK-1", NULL);
	g_autoptr(FstProvisionResult) r = fst_fixture_provision(fx, port);
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_no_error(r->error);
	g_assert_cmpstr(r->uid, ==, "PT-OK-1");
	g_assert_cmpstr(r->roots, ==, "AmazonRootCA3");
	g_assert_nonnull(r->serial_hex);
	g_assert_cmpuint(strlen(r->aws_cert_id), ==, 64);
	g_assert_cmpuint(r->bytes_out, >, 1000);

	dev = fst_db_find_device(fst_station_get_db(fx->station), "PT-OK-1", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_nonnull(dev->cert);
	g_assert_cmpstr(dev->cert->serial_hex, ==, r->serial_hex);
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_VERIFIED);

	/* the verify step recorded the proof of possession */
	{
		g_autoptr(GPtrArray) events = fst_db_list_events(fst_station_get_db(fx->station), dev->id, &error);
		gboolean proved = FALSE;
		g_assert_no_error(error);
		for (guint i = 0; i < events->len; i++) {
			FstDbEvent *ev = g_ptr_array_index(events, i);
			if (g_strcmp0(ev->step, "verify") == 0 && g_strcmp0(ev->outcome, "ok") == 0 &&
			    ev->detail != NULL && strstr(ev->detail, "proof of possession verified") != NULL)
				proved = TRUE;
		}
		g_assert_true(proved);
	}
}

/* a device of another model: refused before any key or certificate exists */
static void
fst_pipeline_wrong_model_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *extra[] = {"--model", "toaster-9000", NULL};
	g_autofree gchar *port = fst_fixture_start_sim(fx, "PT-MODEL-1", extra);
	g_autoptr(FstProvisionResult) r = fst_fixture_provision(fx, port);
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_error(r->error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(r->error->message, "toaster-9000"));
	g_assert_null(r->serial_hex);
	dev = fst_db_find_device(fst_station_get_db(fx->station), "PT-MODEL-1", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_FAILED);
	g_assert_nonnull(strstr(dev->last_error, "toaster-9000"));
	g_assert_null(dev->cert);
}

/* roots that cannot fit: refused at planning, before a certificate is issued */
static void
fst_pipeline_roots_too_big_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *extra[] = {"--capacity-roots", "300", NULL};
	g_autofree gchar *port = fst_fixture_start_sim(fx, "PT-FULL-1", extra);
	g_autoptr(FstProvisionResult) r = fst_fixture_provision(fx, port);
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_error(r->error, FST_ERROR, FST_ERROR_STORAGE_FULL);
	g_assert_nonnull(strstr(r->error->message, "300"));
	g_assert_null(r->serial_hex);
	dev = fst_db_find_device(fst_station_get_db(fx->station), "PT-FULL-1", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_FAILED);
	g_assert_null(dev->cert);
}

/* no such port: a clear error, and the attempt is still an event */
static void
fst_pipeline_no_port_test(FstFixture *fx, gconstpointer user_data)
{
	g_autoptr(FstProvisionResult) r = fst_fixture_provision(fx, "/dev/ttyFLEETNOTHERE9");
	g_assert_error(r->error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(r->error->message, "/dev/ttyFLEETNOTHERE9"));
	g_assert_null(r->uid);
}

/* a device that failed is completed later under the same device row; one
 * that comes back provisioned is refused by the shipped profile, its history
 * shown and nothing issued or changed */
static void
fst_pipeline_refuse_test(FstFixture *fx, gconstpointer user_data)
{
	FstDb *db = fst_station_get_db(fx->station);
	g_autofree gchar *port = fst_fixture_start_sim(fx, "PT-AGAIN-1", NULL);
	g_autoptr(FstProvisionResult) r1 = fst_fixture_provision(fx, port);
	g_autoptr(FstProvisionResult) r2 = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GPtrArray) all = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GError) error = NULL;
	FstDbCertFilter filter = {.device_uid = "PT-AGAIN-1"};
	guint n = 0;
	guint n_events;

	g_assert_no_error(r1->error);
	dev = fst_db_find_device(db, "PT-AGAIN-1", &error);
	g_assert_no_error(error);
	events = fst_db_list_events(db, dev->id, &error);
	g_assert_no_error(error);
	n_events = events->len;
	g_clear_pointer(&events, g_ptr_array_unref);
	g_clear_pointer(&dev, fst_db_device_free);

	r2 = fst_fixture_provision(fx, port);
	g_assert_error(r2->error, FST_ERROR, FST_ERROR_CONFIG);
	g_test_message("%s", r2->error->message);
	g_assert_nonnull(strstr(r2->error->message, "device PT-AGAIN-1 came back"));
	g_assert_nonnull(strstr(r2->error->message, r1->serial_hex));
	g_assert_nonnull(strstr(r2->error->message, "verified"));
	g_assert_nonnull(strstr(r2->error->message, "fleetstation show PT-AGAIN-1"));
	g_assert_nonnull(strstr(r2->error->message, "on-return=reprovision"));
	g_assert_null(r2->serial_hex);

	/* nothing issued, the device row as it was, one more event */
	dev = fst_db_find_device(db, "PT-AGAIN-1", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_cmpstr(dev->cert->serial_hex, ==, r1->serial_hex);
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_VERIFIED);
	certs = fst_db_list_certificates(db, &filter, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 1);
	events = fst_db_list_events(db, dev->id, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, ==, n_events + 1);
	{
		FstDbEvent *ev = g_ptr_array_index(events, events->len - 1);
		g_assert_cmpstr(ev->step, ==, "plan");
		g_assert_cmpstr(ev->outcome, ==, "config");
		g_assert_nonnull(strstr(ev->detail, "came back"));
	}
	all = fst_db_list_devices(db, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < all->len; i++) {
		FstDbDevice *d = g_ptr_array_index(all, i);
		if (g_strcmp0(d->uid, "PT-AGAIN-1") == 0)
			n++;
	}
	g_assert_cmpuint(n, ==, 1);
}

int
main(int argc, char **argv)
{
	g_setenv(FST_ENV_CA_PASSPHRASE, "pipeline-test-passphrase", TRUE);
	g_test_init(&argc, &argv, NULL);
	g_test_add("/fst/pipeline/ok", FstFixture, NULL, fst_fixture_setup, fst_pipeline_ok_test, fst_fixture_teardown);
	g_test_add("/fst/pipeline/wrong-model", FstFixture, NULL, fst_fixture_setup, fst_pipeline_wrong_model_test, fst_fixture_teardown);
	g_test_add("/fst/pipeline/roots-too-big", FstFixture, NULL, fst_fixture_setup, fst_pipeline_roots_too_big_test, fst_fixture_teardown);
	g_test_add("/fst/pipeline/no-port", FstFixture, NULL, fst_fixture_setup, fst_pipeline_no_port_test, fst_fixture_teardown);
	g_test_add("/fst/pipeline/refuse-returning", FstFixture, NULL, fst_fixture_setup, fst_pipeline_refuse_test, fst_fixture_teardown);
	return g_test_run();
}
