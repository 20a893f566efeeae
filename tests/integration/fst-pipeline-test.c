/* SPDX-License-Identifier: Apache-2.0 */
/* The provisioning pipeline against simulated devices on real ptys, with a real
 * SQLite file and the real CA: the happy path and the ways a device fails */

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include <sqlite3.h>

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
	fst_station_unref(fx->station);
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
	p = g_subprocess_newv(
	    (const gchar *const *)argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
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
	/* the simulator holds every ATS root, so it gets them all */
	g_assert_cmpstr(r->roots, ==, "AmazonRootCA3,AmazonRootCA4,AmazonRootCA1,AmazonRootCA2");
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
		g_autoptr(GPtrArray) events =
		    fst_db_list_events(fst_station_get_db(fx->station), dev->id, &error);
		gboolean proved = FALSE;
		g_assert_no_error(error);
		for (guint i = 0; i < events->len; i++) {
			FstDbEvent *ev = g_ptr_array_index(events, i);
			if (g_strcmp0(ev->step, "verify") == 0 &&
			    g_strcmp0(ev->outcome, "ok") == 0 && ev->detail != NULL &&
			    strstr(ev->detail, "proof of possession verified") != NULL)
				proved = TRUE;
		}
		g_assert_true(proved);
	}
}

/* a committed object from a simulator's storage file, or NULL when absent */
static GBytes *
fst_fixture_dump(FstFixture *fx, const gchar *uid, const gchar *object)
{
	g_autofree gchar *storage = g_strdup_printf("%s/%s.bin", fx->workspace, uid);
	const gchar *argv[] = {
	    g_getenv("FST_DEVSIM"), "--storage", storage, "--dump", object, NULL};
	g_autoptr(GSubprocess) p = NULL;
	g_autoptr(GBytes) out = NULL;
	g_autoptr(GError) error = NULL;

	p = g_subprocess_newv(
	    argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate(p, NULL, NULL, &out, NULL, &error));
	g_assert_no_error(error);
	if (g_subprocess_get_exit_status(p) == 1)
		return NULL;
	g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 0);
	return g_steal_pointer(&out);
}

static gboolean
fst_bytes_is_pem(GBytes *b)
{
	return g_bytes_get_size(b) > 27 &&
	       memcmp(g_bytes_get_data(b, NULL), "-----BEGIN CERTIFICATE-----", 27) == 0;
}

static gboolean
fst_bytes_is_der(GBytes *b)
{
	return g_bytes_get_size(b) > 4 && ((const guint8 *)g_bytes_get_data(b, NULL))[0] == 0x30;
}

/* the profile's [burn] objects and format decide what the device stores, not
 * the device's own format: small-storage (DER, no CA chain) on a PEM device,
 * nrf91 (PEM, no CA chain) on a DER device */
static void
fst_pipeline_burn_objects_format_test(FstFixture *fx, gconstpointer user_data)
{
	struct {
		const gchar *profile;
		const gchar *uid;
		const gchar *model;
		const gchar *device_format;
		gboolean der;
	} cases[] = {
	    {"small-storage", "PT-SMALL-1", "devsim-small", "pem", TRUE},
	    {"nrf91", "PT-NRF-1", "nrf9160", "der", FALSE},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		const gchar *extra[] = {
		    "--model", cases[i].model, "--format", cases[i].device_format, NULL};
		g_autofree gchar *port = fst_fixture_start_sim(fx, cases[i].uid, extra);
		g_autoptr(FstProfile) profile = NULL;
		g_autoptr(FstProvisionResult) r = NULL;
		g_autoptr(FstTransport) transport = fst_serial_transport_new(port, 0);
		g_autoptr(FstDevice) device = fst_fsp_device_new(transport);
		g_autoptr(GBytes) cert = NULL;
		g_autoptr(GBytes) chain = NULL;
		g_autoptr(GBytes) roots = NULL;
		g_autoptr(GError) error = NULL;

		profile = fst_station_load_profile(fx->station, cases[i].profile, &error);
		g_assert_no_error(error);
		r = fst_pipeline_provision(fx->station, profile, device, NULL, NULL, NULL);
		g_assert_no_error(r->error);
		cert = fst_fixture_dump(fx, cases[i].uid, "device-cert");
		chain = fst_fixture_dump(fx, cases[i].uid, "ca-chain");
		roots = fst_fixture_dump(fx, cases[i].uid, "trust-roots");
		g_assert_nonnull(cert);
		g_assert_nonnull(roots);
		g_assert_null(chain);
		g_assert_true(cases[i].der ? fst_bytes_is_der(cert) : fst_bytes_is_pem(cert));
		g_assert_true(cases[i].der ? fst_bytes_is_der(roots) : fst_bytes_is_pem(roots));
	}
}

/* a transport between the station and the device that, when the first WRITE
 * request goes out, opens the database file from outside, read-only, and
 * counts the device's certificates there: what a crash at that instant would
 * leave on disk */
#define FST_TYPE_WATCH_TRANSPORT (fst_watch_transport_get_type())
G_DECLARE_FINAL_TYPE(FstWatchTransport, fst_watch_transport, FST, WATCH_TRANSPORT, FstTransport)

struct _FstWatchTransport {
	FstTransport parent_instance;
	FstTransport *inner; /* (owned) */
	gchar *db_path;      /* (owned) */
	gchar *uid;          /* (owned) */
	FstFspDecoder dec;
	guint8 dec_buf[FST_FSP_ENCODED_MAX(FST_FSP_MAX_PAYLOAD_LIMIT)];
	gint certs_at_first_write; /* -1 until the first WRITE */
	gint objects_at_first_write;
};

G_DEFINE_TYPE(FstWatchTransport, fst_watch_transport, FST_TYPE_TRANSPORT)

static gint
fst_watch_count(sqlite3 *db, const gchar *sql, const gchar *uid)
{
	sqlite3_stmt *stmt = NULL;
	gint n = -1;
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	sqlite3_bind_text(stmt, 1, uid, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return n;
}

static void
fst_watch_transport_look(FstWatchTransport *self)
{
	sqlite3 *db = NULL;
	g_assert_cmpint(
	    sqlite3_open_v2(self->db_path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
	self->certs_at_first_write = fst_watch_count(
	    db,
	    "SELECT count(*) FROM certificates c JOIN devices d ON d.id = c.device_id "
	    "WHERE d.uid = ?1",
	    self->uid);
	self->objects_at_first_write = fst_watch_count(
	    db,
	    "SELECT count(*) FROM device_objects o JOIN devices d ON d.id = o.device_id "
	    "WHERE d.uid = ?1 AND o.kind = 'device-cert'",
	    self->uid);
	sqlite3_close(db);
}

static gboolean
fst_watch_transport_open(FstTransport *transport, GError **error)
{
	return fst_transport_open(FST_WATCH_TRANSPORT(transport)->inner, error);
}

static void
fst_watch_transport_close(FstTransport *transport)
{
	fst_transport_close(FST_WATCH_TRANSPORT(transport)->inner);
}

static gssize
fst_watch_transport_read(FstTransport *transport,
                         guint8 *buf,
                         gsize len,
                         guint timeout_ms,
                         GCancellable *cancellable,
                         GError **error)
{
	return fst_transport_read(
	    FST_WATCH_TRANSPORT(transport)->inner, buf, len, timeout_ms, cancellable, error);
}

static gboolean
fst_watch_transport_write(FstTransport *transport,
                          const guint8 *buf,
                          gsize len,
                          guint timeout_ms,
                          GCancellable *cancellable,
                          GError **error)
{
	FstWatchTransport *self = FST_WATCH_TRANSPORT(transport);
	for (gsize i = 0; i < len && self->certs_at_first_write < 0; i++) {
		FstFspPacket pkt;
		if (fst_fsp_decoder_push(&self->dec, buf[i], &pkt) == FST_FSP_DEC_FRAME &&
		    pkt.type == FST_FSP_CMD_WRITE)
			fst_watch_transport_look(self);
	}
	return fst_transport_write(self->inner, buf, len, timeout_ms, cancellable, error);
}

static void
fst_watch_transport_finalize(GObject *object)
{
	FstWatchTransport *self = FST_WATCH_TRANSPORT(object);
	g_clear_object(&self->inner);
	g_free(self->db_path);
	g_free(self->uid);
	G_OBJECT_CLASS(fst_watch_transport_parent_class)->finalize(object);
}

static void
fst_watch_transport_init(FstWatchTransport *self)
{
	self->certs_at_first_write = -1;
	self->objects_at_first_write = -1;
	fst_fsp_decoder_init(
	    &self->dec, self->dec_buf, sizeof(self->dec_buf), FST_FSP_MAX_PAYLOAD_LIMIT);
}

static void
fst_watch_transport_class_init(FstWatchTransportClass *klass)
{
	FstTransportClass *transport_class = FST_TRANSPORT_CLASS(klass);
	G_OBJECT_CLASS(klass)->finalize = fst_watch_transport_finalize;
	transport_class->open = fst_watch_transport_open;
	transport_class->close = fst_watch_transport_close;
	transport_class->read = fst_watch_transport_read;
	transport_class->write = fst_watch_transport_write;
}

/* write-ahead: the certificate and its object rows are committed to the
 * database file before the first WRITE reaches the device; and the
 * station's connection commits with synchronous=FULL, so a commit is on the
 * disk when it returns */
static void
fst_pipeline_write_ahead_test(FstFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *port = fst_fixture_start_sim(fx, "PT-WAL-1", NULL);
	g_autoptr(FstWatchTransport) watch = g_object_new(FST_TYPE_WATCH_TRANSPORT, NULL);
	g_autoptr(FstDevice) device = NULL;
	g_autoptr(FstProvisionResult) r = NULL;

	g_assert_cmpint(fst_db_get_synchronous(fst_station_get_db(fx->station)), ==, 2);

	watch->inner = fst_serial_transport_new(port, 0);
	watch->db_path = g_strdup(fst_db_get_path(fst_station_get_db(fx->station)));
	watch->uid = g_strdup("PT-WAL-1");
	fst_transport_set_name(FST_TRANSPORT(watch), port);
	device = fst_fsp_device_new(FST_TRANSPORT(watch));
	r = fst_pipeline_provision(fx->station, fx->profile, device, NULL, NULL, NULL);
	g_assert_no_error(r->error);
	g_assert_cmpint(watch->certs_at_first_write, ==, 1);
	g_assert_cmpint(watch->objects_at_first_write, ==, 1);
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

/* the plan event says which roots were left out and why, with the numbers */
static gchar *
fst_fixture_plan_detail(FstFixture *fx, const gchar *uid)
{
	FstDb *db = fst_station_get_db(fx->station);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDbDevice) dev = fst_db_find_device(db, uid, &error);
	g_autoptr(GPtrArray) events = NULL;

	g_assert_no_error(error);
	events = fst_db_list_events(db, dev->id, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *ev = g_ptr_array_index(events, i);
		if (g_strcmp0(ev->step, "plan") == 0 && ev->detail != NULL)
			return g_strdup(ev->detail);
	}
	return NULL;
}

static void
fst_pipeline_roots_reason_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *extra[] = {"--capacity-roots", "2048", "--validation", "ecdsa-p256", NULL};
	g_autofree gchar *port = fst_fixture_start_sim(fx, "PT-ROOTS-1", extra);
	g_autoptr(FstProvisionResult) r = fst_fixture_provision(fx, port);
	g_autofree gchar *detail = NULL;

	g_assert_no_error(r->error);
	g_assert_cmpstr(r->roots, ==, "AmazonRootCA3");
	detail = fst_fixture_plan_detail(fx, "PT-ROOTS-1");
	g_test_message("%s", detail);
	g_assert_nonnull(detail);
	g_assert_nonnull(strstr(detail,
	                        "roots AmazonRootCA3 (CA 1/2/4 omitted: device validates ECDSA "
	                        "P-256 only, 2,048 bytes free, all need 4,464)"));
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
	g_test_add("/fst/pipeline/ok",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_pipeline_ok_test,
	           fst_fixture_teardown);
	g_test_add("/fst/pipeline/wrong-model",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_pipeline_wrong_model_test,
	           fst_fixture_teardown);
	g_test_add("/fst/pipeline/roots-too-big",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_pipeline_roots_too_big_test,
	           fst_fixture_teardown);
	g_test_add("/fst/pipeline/burn-objects-and-format",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_pipeline_burn_objects_format_test,
	           fst_fixture_teardown);
	g_test_add("/fst/pipeline/write-ahead",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_pipeline_write_ahead_test,
	           fst_fixture_teardown);
	g_test_add("/fst/pipeline/roots-reason-recorded",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_pipeline_roots_reason_test,
	           fst_fixture_teardown);
	g_test_add("/fst/pipeline/no-port",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_pipeline_no_port_test,
	           fst_fixture_teardown);
	g_test_add("/fst/pipeline/refuse-returning",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_pipeline_refuse_test,
	           fst_fixture_teardown);
	return g_test_run();
}
