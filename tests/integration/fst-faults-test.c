/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The station against simulated devices that fail like hardware does, over
 * real ptys, with a real SQLite file and the real CA. Each test asserts what
 * the device storage holds afterwards (fleetstation-devsim --dump) and what
 * the database says (device state, certificate state).
 *
 * Faults are deterministic: every simulator gets a fixed --seed.
 *
 * Also here, because it runs through the same fixture: key injection
 * (key-source=station-generated, PUT_KEY) on a device that cannot make keys.
 */
#define G_LOG_DOMAIN "FstFaultsTest"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <string.h>

#include "fst-error.h"
#include "fst-fsp-device.h"
#include "fst-openssl-common.h"
#include "fst-pipeline.h"
#include "fst-serial-transport.h"
#include "fst-station.h"
#include "fst-x509.h"

/* a short base timeout, so that the tests that wait for a silent device
 * stay quick; the command factors still apply on top of it */
#define FST_FAULTS_TIMEOUT_MS 250

typedef struct {
	GSubprocess *proc;
	GDataInputStream *out;
	gchar *port;
} FstSim;

typedef struct {
	gchar *workspace;
	FstStation *station;
	FstProfile *profile;
	GPtrArray *sims; /* (element-type FstSim) */
	guint retries;   /* 0 = the driver's default */
	guint retransmissions;
} FstFixture;

static void
fst_sim_free(FstSim *sim)
{
	if (sim->proc != NULL) {
		g_subprocess_send_signal(sim->proc, SIGTERM);
		g_subprocess_wait(sim->proc, NULL, NULL);
	}
	g_clear_object(&sim->out);
	g_clear_object(&sim->proc);
	g_free(sim->port);
	g_free(sim);
}

static void
fst_fixture_setup(FstFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	fx->workspace = g_dir_make_tmp("fst-faults-test-XXXXXX", &error);
	g_assert_no_error(error);
	g_assert_true(fst_station_init_workspace(fx->workspace, "Faults Test", &error));
	g_assert_no_error(error);
	fx->station = fst_station_open(fx->workspace, &error);
	g_assert_no_error(error);
	/* the faults hit devices provisioned before (a rework line): the
	 * profile re-provisions them in place (on-return=reprovision) */
	{
		g_autofree gchar *src = g_build_filename(
		    g_getenv("FST_TEMPLATES_DIR"), "profiles", "aws-iot-ecc.profile", NULL);
		g_autofree gchar *dst = g_build_filename(fx->workspace, "rework.profile", NULL);
		g_autofree gchar *text = NULL;
		g_autoptr(GString) edited = NULL;
		g_assert_true(g_file_get_contents(src, &text, NULL, &error));
		edited = g_string_new(text);
		g_assert_cmpint(
		    g_string_replace(edited, "on-return=refuse", "on-return=reprovision", 1),
		    ==,
		    1);
		g_assert_true(g_file_set_contents(dst, edited->str, -1, &error));
		fx->profile = fst_station_load_profile(fx->station, dst, &error);
	}
	g_assert_no_error(error);
	fx->sims = g_ptr_array_new_with_free_func((GDestroyNotify)fst_sim_free);
}

static void
fst_fixture_teardown(FstFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", fx->workspace);
	g_ptr_array_unref(fx->sims);
	fst_profile_free(fx->profile);
	fst_station_unref(fx->station);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(fx->workspace);
}

static gchar *
fst_fixture_storage(FstFixture *fx, const gchar *uid)
{
	return g_strdup_printf("%s/%s.dev", fx->workspace, uid);
}

/* starts a simulated ECC device (PEM, as the demo's) with extra options */
static FstSim *
fst_fixture_start_sim(FstFixture *fx, const gchar *uid, const gchar *const *extra)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *line = NULL;
	FstSim *sim = g_new0(FstSim, 1);

	g_ptr_array_add(argv, g_strdup(g_getenv("FST_DEVSIM")));
	g_ptr_array_add(argv, g_strdup("--uid"));
	g_ptr_array_add(argv, g_strdup(uid));
	g_ptr_array_add(argv, g_strdup("--storage"));
	g_ptr_array_add(argv, fst_fixture_storage(fx, uid));
	g_ptr_array_add(argv, g_strdup("--key-types"));
	g_ptr_array_add(argv, g_strdup("ec-p256"));
	g_ptr_array_add(argv, g_strdup("--validation"));
	g_ptr_array_add(argv, g_strdup("ecdsa-p256"));
	g_ptr_array_add(argv, g_strdup("--seed"));
	g_ptr_array_add(argv, g_strdup("4242"));
	for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
		g_ptr_array_add(argv, g_strdup(extra[i]));
	g_ptr_array_add(argv, NULL);
	sim->proc = g_subprocess_newv(
	    (const gchar *const *)argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
	g_assert_no_error(error);
	sim->out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(sim->proc));
	line = g_data_input_stream_read_line(sim->out, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(line);
	g_assert_true(g_str_has_prefix(line, "READY /"));
	sim->port = g_strdup(line + 6);
	g_ptr_array_add(fx->sims, sim);
	return sim;
}

/* stops a simulator and returns its STATS line */
static gchar *
fst_sim_stop(FstSim *sim)
{
	g_autoptr(GError) error = NULL;
	gchar *line;

	g_subprocess_send_signal(sim->proc, SIGTERM);
	g_subprocess_wait(sim->proc, NULL, &error);
	g_assert_no_error(error);
	line = g_data_input_stream_read_line(sim->out, NULL, NULL, &error);
	g_assert_no_error(error);
	g_clear_object(&sim->proc);
	return line;
}

static FstProvisionResult *
fst_fixture_provision(FstFixture *fx, FstSim *sim)
{
	g_autoptr(FstTransport) transport = fst_serial_transport_new(sim->port, 0);
	g_autoptr(FstDevice) device = fst_fsp_device_new(transport);
	FstProvisionResult *r;

	fst_fsp_device_set_timeout(FST_FSP_DEVICE(device), FST_FAULTS_TIMEOUT_MS);
	if (fx->retries != 0)
		fst_fsp_device_set_retries(FST_FSP_DEVICE(device), fx->retries);
	r = fst_pipeline_provision(fx->station, fx->profile, device, NULL, NULL, NULL);
	fx->retransmissions = fst_fsp_device_get_retransmissions(FST_FSP_DEVICE(device));
	return r;
}

/* the device still holds the key of @cert_pem, the certificate it stores: a
 * failed provisioning must not leave a certificate whose key was replaced */
static void
fst_sim_assert_key_matches(FstSim *sim, GBytes *cert_pem)
{
	g_autoptr(FstTransport) transport = fst_serial_transport_new(sim->port, 0);
	g_autoptr(FstDevice) device = fst_fsp_device_new(transport);
	g_autoptr(BIO) bio =
	    BIO_new_mem_buf(g_bytes_get_data(cert_pem, NULL), (int)g_bytes_get_size(cert_pem));
	g_autoptr(X509) cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	g_autoptr(GBytes) nonce = NULL;
	g_autoptr(GBytes) message = NULL;
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(GBytes) spki = NULL;
	g_autoptr(GError) error = NULL;
	unsigned char *spki_der = NULL;
	guint8 nonce_buf[32];
	int spki_len;

	g_assert_nonnull(cert);
	spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki_der);
	g_assert_cmpint(spki_len, >, 0);
	spki = g_bytes_new(spki_der, (gsize)spki_len);
	OPENSSL_free(spki_der);
	g_assert_cmpint(RAND_bytes(nonce_buf, sizeof(nonce_buf)), ==, 1);
	nonce = g_bytes_new(nonce_buf, sizeof(nonce_buf));

	g_assert_true(fst_transport_open(transport, &error));
	g_assert_no_error(error);
	sig = fst_device_sign_challenge(device, 0, nonce, &message, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(fst_ca_verify_challenge(spki, message, sig, &error));
	g_assert_no_error(error);
	fst_transport_close(transport);
}

/* what `fleetstation-devsim --dump OBJECT` prints; NULL when it is absent */
static GBytes *
fst_fixture_dump(FstFixture *fx, const gchar *uid, const gchar *object)
{
	g_autofree gchar *storage = fst_fixture_storage(fx, uid);
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

/* the device certificate object as the station burns it for @cert */
static GBytes *
fst_expected_cert_object(const FstDbCert *cert)
{
	g_autoptr(GPtrArray) ders = g_ptr_array_new();
	g_ptr_array_add(ders, cert->der);
	return fst_x509_bundle_encode(ders, FST_CRED_FORMAT_PEM);
}

static FstDbDevice *
fst_fixture_find(FstFixture *fx, const gchar *uid)
{
	g_autoptr(GError) error = NULL;
	FstDbDevice *dev = fst_db_find_device(fst_station_get_db(fx->station), uid, &error);
	g_assert_no_error(error);
	g_assert_nonnull(dev);
	return dev;
}

/* the device is provisioned, with a verified certificate, and its storage
 * holds exactly that certificate */
static void
fst_fixture_assert_provisioned(FstFixture *fx, const gchar *uid, const FstProvisionResult *r)
{
	g_autoptr(FstDbDevice) dev = fst_fixture_find(fx, uid);
	g_autoptr(GBytes) stored = fst_fixture_dump(fx, uid, "device-cert");
	g_autoptr(GBytes) expected = NULL;

	g_assert_no_error(r->error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_nonnull(dev->cert);
	g_assert_cmpstr(dev->cert->serial_hex, ==, r->serial_hex);
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_VERIFIED);
	expected = fst_expected_cert_object(dev->cert);
	g_assert_nonnull(stored);
	g_assert_true(g_bytes_equal(stored, expected));
}

/* the device failed, and the certificate issued in that attempt is revoked */
static void
fst_fixture_assert_rejected(FstFixture *fx, const gchar *uid, const FstProvisionResult *r)
{
	g_autoptr(FstDbDevice) dev = fst_fixture_find(fx, uid);

	g_assert_nonnull(r->error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_FAILED);
	g_assert_nonnull(dev->last_error);
	g_assert_nonnull(r->serial_hex);
	g_assert_nonnull(dev->cert);
	g_assert_cmpstr(dev->cert->serial_hex, ==, r->serial_hex);
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_REVOKED);
	g_assert_nonnull(strstr(r->error->message, "revoked"));
	g_assert_nonnull(strstr(dev->last_error, r->serial_hex));
}

/* provisions @uid cleanly and returns the certificate object it got */
static GBytes *
fst_fixture_provision_clean(FstFixture *fx, const gchar *uid)
{
	FstSim *sim = fst_fixture_start_sim(fx, uid, NULL);
	g_autoptr(FstProvisionResult) r = fst_fixture_provision(fx, sim);
	g_autofree gchar *stats = NULL;

	fst_fixture_assert_provisioned(fx, uid, r);
	stats = fst_sim_stop(sim);
	return fst_fixture_dump(fx, uid, "device-cert");
}

/* a noisy line: at 1e-3 a 520-byte WRITE and its answer are hit four times
 * in ten, so the tests allow 8 retransmissions per request (the default 3
 * is for a sane cable) to keep the outcome certain whatever the bytes */
#define FST_FAULTS_NOISY_RETRIES 8

/* bit errors in both directions: retransmission recovers, no operator */
static void
fst_faults_bit_errors_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *extra[] = {"--fault-bit-errors", "0.001", NULL};
	FstSim *sim = fst_fixture_start_sim(fx, "FT-BITS-1", extra);
	g_autoptr(FstProvisionResult) r = NULL;

	fx->retries = FST_FAULTS_NOISY_RETRIES;
	r = fst_fixture_provision(fx, sim);
	g_autofree gchar *stats = NULL;

	fst_fixture_assert_provisioned(fx, "FT-BITS-1", r);
	g_assert_cmpuint(fx->retransmissions, >, 0);
	stats = fst_sim_stop(sim);
	g_test_message("%s, %u retransmissions", stats, fx->retransmissions);
	g_assert_true(g_str_has_prefix(stats, "STATS "));
	g_assert_null(strstr(stats, " bit_errors=0 "));
	/* corrupt requests were answered with a NAK, not waited out */
	g_assert_null(strstr(stats, " naks=0 "));
}

/* lost bytes: the same */
static void
fst_faults_drop_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *extra[] = {"--fault-drop", "0.001", NULL};
	FstSim *sim = fst_fixture_start_sim(fx, "FT-DROP-1", extra);
	g_autoptr(FstProvisionResult) r = NULL;

	fx->retries = FST_FAULTS_NOISY_RETRIES;
	r = fst_fixture_provision(fx, sim);
	g_autofree gchar *stats = NULL;

	fst_fixture_assert_provisioned(fx, "FT-DROP-1", r);
	g_assert_cmpuint(fx->retransmissions, >, 0);
	stats = fst_sim_stop(sim);
	g_test_message("%s, %u retransmissions", stats, fx->retransmissions);
	g_assert_null(strstr(stats, " dropped=0 "));
}

/* unplugged in the middle of writing the certificate: the device keeps its
 * previous certificate, the station records the failure and revokes the new
 * one, and the device plugged in again is completed under the same row */
static void
fst_faults_disconnect_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "FT-UNPLUG-1";
	const gchar *extra[] = {"--fault-disconnect-after", "300", NULL};
	g_autoptr(GBytes) before = fst_fixture_provision_clean(fx, uid);
	g_autoptr(FstDbDevice) first = fst_fixture_find(fx, uid);
	g_autoptr(FstProvisionResult) r = NULL;
	g_autoptr(FstProvisionResult) r2 = NULL;
	g_autoptr(GBytes) after = NULL;
	FstSim *sim;

	sim = fst_fixture_start_sim(fx, uid, extra);
	r = fst_fixture_provision(fx, sim);
	g_test_message("disconnect: %s", r->error != NULL ? r->error->message : "no error");
	fst_fixture_assert_rejected(fx, uid, r);
	g_assert_cmpstr(r->serial_hex, !=, first->cert->serial_hex);
	after = fst_fixture_dump(fx, uid, "device-cert");
	g_assert_nonnull(after);
	g_assert_true(g_bytes_equal(before, after));
	/* the old certificate is still the one in service: nothing superseded */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(FstDbCert) active =
		    fst_db_get_active_certificate(fst_station_get_db(fx->station), uid, &error);
		g_assert_no_error(error);
		g_assert_nonnull(active);
		g_assert_cmpstr(active->serial_hex, ==, first->cert->serial_hex);
		g_assert_cmpint(active->state, ==, FST_CERT_STATE_VERIFIED);
	}

	/* plugged in again, without the fault: the old certificate and its key */
	g_free(fst_sim_stop(sim));
	sim = fst_fixture_start_sim(fx, uid, NULL);
	fst_sim_assert_key_matches(sim, before);
	r2 = fst_fixture_provision(fx, sim);
	fst_fixture_assert_provisioned(fx, uid, r2);
	g_assert_cmpstr(r2->serial_hex, !=, r->serial_hex);
}

/* a device that hangs: the station gives up after its retries, records it */
static void
fst_faults_stall_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "FT-STALL-1";
	const gchar *extra[] = {"--fault-stall-after", "300", NULL};
	g_autoptr(GBytes) before = fst_fixture_provision_clean(fx, uid);
	FstSim *sim = fst_fixture_start_sim(fx, uid, extra);
	g_autoptr(FstProvisionResult) r = fst_fixture_provision(fx, sim);
	g_autoptr(GBytes) after = NULL;

	g_assert_error(r->error, FST_ERROR, FST_ERROR_TIMED_OUT);
	g_assert_nonnull(strstr(r->error->message, "WRITE"));
	fst_fixture_assert_rejected(fx, uid, r);
	g_free(fst_sim_stop(sim));
	after = fst_fixture_dump(fx, uid, "device-cert");
	g_assert_true(g_bytes_equal(before, after));
}

/* a reboot in the middle of a write: the half-written certificate never
 * replaces the good one, and the next attempt completes the device */
static void
fst_faults_reboot_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "FT-REBOOT-1";
	/* the PEM certificate takes two WRITEs: reboot in the second */
	const gchar *extra[] = {"--fault-reboot-in-write", "2", NULL};
	g_autoptr(GBytes) before = fst_fixture_provision_clean(fx, uid);
	FstSim *sim = fst_fixture_start_sim(fx, uid, extra);
	g_autoptr(FstProvisionResult) r = fst_fixture_provision(fx, sim);
	g_autoptr(FstProvisionResult) r2 = NULL;
	g_autoptr(GBytes) after = NULL;

	g_assert_error(r->error, FST_ERROR, FST_ERROR_DISCONNECTED);
	g_assert_nonnull(strstr(r->error->message, "rebooted"));
	fst_fixture_assert_rejected(fx, uid, r);
	after = fst_fixture_dump(fx, uid, "device-cert");
	g_assert_true(g_bytes_equal(before, after));
	fst_sim_assert_key_matches(sim, before);

	/* the same simulator, rebooted once: provisioning again completes it */
	r2 = fst_fixture_provision(fx, sim);
	fst_fixture_assert_provisioned(fx, uid, r2);
}

/* a device that says OK but stores something else: caught by the device's
 * digest of its storage, or, for firmware without DIGEST, at read-back */
static void
fst_faults_corrupt_test(FstFixture *fx, gconstpointer user_data)
{
	gboolean digest = user_data == NULL;
	const gchar *uid = "FT-LIAR-1";
	const gchar *extra[] = {
	    "--fault-corrupt", "device-cert", digest ? NULL : "--no-digest", NULL};
	FstSim *sim = fst_fixture_start_sim(fx, uid, extra);
	g_autoptr(FstProvisionResult) r = fst_fixture_provision(fx, sim);
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GBytes) stored = NULL;
	g_autoptr(GBytes) expected = NULL;

	g_assert_error(r->error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_assert_nonnull(strstr(r->error->message, "device-cert"));
	g_assert_nonnull(strstr(r->error->message, digest ? "SHA-256 differs" : "read back"));
	fst_fixture_assert_rejected(fx, uid, r);
	dev = fst_fixture_find(fx, uid);
	stored = fst_fixture_dump(fx, uid, "device-cert");
	expected = fst_expected_cert_object(dev->cert);
	g_assert_nonnull(stored);
	g_assert_cmpuint(g_bytes_get_size(stored), ==, g_bytes_get_size(expected));
	g_assert_false(g_bytes_equal(stored, expected));
}

/* the profile of the fixture with `verify=@mode` in [burn] */
static FstProfile *
fst_fixture_profile_with_verify(FstFixture *fx, const gchar *mode)
{
	g_autofree gchar *src = g_build_filename(fx->workspace, "rework.profile", NULL);
	g_autofree gchar *dst = g_strdup_printf("%s/verify-%s.profile", fx->workspace, mode);
	g_autofree gchar *text = NULL;
	g_autofree gchar *line = g_strdup_printf("[burn]\nverify=%s\n", mode);
	g_autofree gchar *name_line = g_strdup_printf("name=aws-iot-ecc-verify-%s", mode);
	g_autoptr(GString) edited = NULL;
	g_autoptr(GError) error = NULL;
	FstProfile *profile;

	g_assert_true(g_file_get_contents(src, &text, NULL, &error));
	g_assert_no_error(error);
	edited = g_string_new(text);
	g_assert_cmpint(g_string_replace(edited, "[burn]\n", line, 1), ==, 1);
	g_assert_cmpint(g_string_replace(edited, "name=aws-iot-ecc", name_line, 1), ==, 1);
	g_assert_true(g_file_set_contents(dst, edited->str, -1, &error));
	profile = fst_station_load_profile(fx->station, dst, &error);
	g_assert_no_error(error);
	return profile;
}

/* the detail of the device's successful verify event */
static gchar *
fst_fixture_verify_detail(FstFixture *fx, const gchar *uid)
{
	g_autoptr(FstDbDevice) dev = fst_fixture_find(fx, uid);
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GError) error = NULL;
	gchar *detail = NULL;

	events = fst_db_list_events(fst_station_get_db(fx->station), dev->id, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *ev = g_ptr_array_index(events, i);
		if (g_strcmp0(ev->step, "verify") == 0 && g_strcmp0(ev->outcome, "ok") == 0) {
			g_free(detail);
			detail = g_strdup(ev->detail);
		}
	}
	g_assert_nonnull(detail);
	return detail;
}

/* [burn] verify: the device's digest by default where it has one, read-back
 * where it has none or the profile asks; a profile that insists on a digest
 * refuses a device without one before anything is burned */
static void
fst_verify_modes_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *no_digest[] = {"--no-digest", NULL};
	FstSim *sim_a = fst_fixture_start_sim(fx, "FT-VERIFY-A", NULL);
	FstSim *sim_b = fst_fixture_start_sim(fx, "FT-VERIFY-B", no_digest);
	FstSim *sim_c = fst_fixture_start_sim(fx, "FT-VERIFY-C", NULL);
	FstSim *sim_d = fst_fixture_start_sim(fx, "FT-VERIFY-D", no_digest);
	g_autoptr(FstProvisionResult) r_a = NULL;
	g_autoptr(FstProvisionResult) r_b = NULL;
	g_autoptr(FstProvisionResult) r_c = NULL;
	g_autoptr(FstProvisionResult) r_d = NULL;
	g_autofree gchar *detail_a = NULL;
	g_autofree gchar *detail_b = NULL;
	g_autofree gchar *detail_c = NULL;
	FstProfile *fixture_profile = fx->profile;

	r_a = fst_fixture_provision(fx, sim_a);
	fst_fixture_assert_provisioned(fx, "FT-VERIFY-A", r_a);
	detail_a = fst_fixture_verify_detail(fx, "FT-VERIFY-A");
	g_assert_nonnull(strstr(detail_a, "verified by the device's digest of its storage"));

	r_b = fst_fixture_provision(fx, sim_b);
	fst_fixture_assert_provisioned(fx, "FT-VERIFY-B", r_b);
	detail_b = fst_fixture_verify_detail(fx, "FT-VERIFY-B");
	g_assert_nonnull(strstr(detail_b, "read back identical"));

	fx->profile = fst_fixture_profile_with_verify(fx, "readback");
	r_c = fst_fixture_provision(fx, sim_c);
	fst_fixture_assert_provisioned(fx, "FT-VERIFY-C", r_c);
	detail_c = fst_fixture_verify_detail(fx, "FT-VERIFY-C");
	g_assert_nonnull(strstr(detail_c, "read back identical"));
	fst_profile_free(fx->profile);

	fx->profile = fst_fixture_profile_with_verify(fx, "digest");
	r_d = fst_fixture_provision(fx, sim_d);
	g_assert_error(r_d->error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(r_d->error->message, "verify=digest"));
	g_assert_null(r_d->serial_hex);
	g_assert_null(fst_fixture_dump(fx, "FT-VERIFY-D", "device-cert"));
	fst_profile_free(fx->profile);
	fx->profile = fixture_profile;
}

/* flash smaller than announced: STORAGE_FULL in the middle of the burn */
static void
fst_faults_storage_full_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "FT-FULL-1";
	const gchar *extra[] = {"--fault-storage-limit", "1200", NULL};
	FstSim *sim = fst_fixture_start_sim(fx, uid, extra);
	g_autoptr(FstProvisionResult) r = fst_fixture_provision(fx, sim);
	g_autoptr(GBytes) roots = NULL;

	g_assert_error(r->error, FST_ERROR, FST_ERROR_STORAGE_FULL);
	g_assert_nonnull(strstr(r->error->message, "storage full"));
	fst_fixture_assert_rejected(fx, uid, r);
	roots = fst_fixture_dump(fx, uid, "trust-roots");
	g_assert_null(roots);
}

/* a device that signs with another key than its CSR's: proof fails */
static void
fst_faults_wrong_key_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "FT-POP-1";
	const gchar *extra[] = {"--fault-wrong-key", NULL};
	FstSim *sim = fst_fixture_start_sim(fx, uid, extra);
	g_autoptr(FstProvisionResult) r = fst_fixture_provision(fx, sim);
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GError) error = NULL;
	gboolean verify_failed = FALSE;

	g_assert_error(r->error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_assert_nonnull(strstr(r->error->message, "proof of possession"));
	fst_fixture_assert_rejected(fx, uid, r);
	dev = fst_fixture_find(fx, uid);
	events = fst_db_list_events(fst_station_get_db(fx->station), dev->id, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *ev = g_ptr_array_index(events, i);
		if (g_strcmp0(ev->step, "verify") == 0 && g_strcmp0(ev->outcome, "ok") != 0)
			verify_failed = TRUE;
	}
	g_assert_true(verify_failed);
}

/* the shipped ECC profile with another key source, saved in the workspace */
static FstProfile *
fst_fixture_profile_with_key_source(FstFixture *fx, const gchar *key_source)
{
	g_autofree gchar *src = g_build_filename(
	    g_getenv("FST_TEMPLATES_DIR"), "profiles", "aws-iot-ecc.profile", NULL);
	g_autofree gchar *dst = g_strdup_printf("%s/%s.profile", fx->workspace, key_source);
	g_autofree gchar *text = NULL;
	g_autofree gchar *source_line = g_strdup_printf("key-source=%s", key_source);
	g_autofree gchar *name_line = g_strdup_printf("name=aws-iot-ecc-%s", key_source);
	g_autoptr(GString) edited = NULL;
	g_autoptr(GError) error = NULL;
	FstProfile *profile;

	g_assert_true(g_file_get_contents(src, &text, NULL, &error));
	g_assert_no_error(error);
	edited = g_string_new(text);
	g_assert_cmpint(g_string_replace(edited, "key-source=device-csr", source_line, 1), ==, 1);
	g_assert_cmpint(
	    g_string_replace(edited, "on-return=refuse", "on-return=reprovision", 1), ==, 1);
	g_assert_cmpint(g_string_replace(edited, "name=aws-iot-ecc", name_line, 1), ==, 1);
	g_assert_true(g_file_set_contents(dst, edited->str, -1, &error));
	g_assert_no_error(error);
	profile = fst_profile_load(dst, &error);
	g_assert_no_error(error);
	return profile;
}

/* a device that makes keys but cannot build a CSR: it sends the public key,
 * proves with a challenge that it holds the key before anything is issued,
 * and the certificate is for exactly that key */
static void
fst_keys_device_public_key_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "FT-PUBKEY-1";
	const gchar *extra[] = {"--no-csr", NULL};
	FstProfile *csr_profile = fx->profile;
	g_autoptr(FstProvisionResult) r = NULL;
	g_autoptr(FstProvisionResult) r_csr = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GBytes) sent = NULL;
	g_autoptr(X509) cert = NULL;
	unsigned char *cert_spki = NULL;
	const guint8 *p;
	int len;
	FstSim *sim;

	fx->profile = fst_fixture_profile_with_key_source(fx, "device-public-key");
	sim = fst_fixture_start_sim(fx, uid, extra);
	r = fst_fixture_provision(fx, sim);
	fst_fixture_assert_provisioned(fx, uid, r);

	/* object 0x10 holds what the device sent: the certificate's own key */
	sent = fst_fixture_dump(fx, uid, "csr");
	g_assert_nonnull(sent);
	dev = fst_fixture_find(fx, uid);
	p = g_bytes_get_data(dev->cert->der, NULL);
	cert = d2i_X509(NULL, &p, (long)g_bytes_get_size(dev->cert->der));
	g_assert_nonnull(cert);
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &cert_spki);
	g_assert_cmpint(len, >, 0);
	g_assert_cmpmem(cert_spki, len, g_bytes_get_data(sent, NULL), g_bytes_get_size(sent));
	OPENSSL_free(cert_spki);

	/* the CSR profile on this device: refused before anything is issued */
	fst_profile_free(fx->profile);
	fx->profile = csr_profile;
	r_csr = fst_fixture_provision(fx, sim);
	g_assert_error(r_csr->error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_null(r_csr->serial_hex);
}

/* a device that sends a public key it cannot sign with: refused at keygen,
 * before a certificate exists for a key nobody proved to hold */
static void
fst_keys_device_public_key_unproven_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "FT-PUBKEY-2";
	const gchar *extra[] = {"--no-csr", "--fault-wrong-key", NULL};
	g_autoptr(FstProvisionResult) r = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	FstSim *sim;

	fst_profile_free(fx->profile);
	fx->profile = fst_fixture_profile_with_key_source(fx, "device-public-key");
	sim = fst_fixture_start_sim(fx, uid, extra);
	r = fst_fixture_provision(fx, sim);
	g_assert_error(r->error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_assert_nonnull(strstr(r->error->message, "the public key it sent"));
	g_assert_null(r->serial_hex);
	dev = fst_fixture_find(fx, uid);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_FAILED);
	g_assert_null(dev->cert);
}

/* a device that proves possession once, then answers the next challenge
 * with that first signature: right key, old nonce. A device that sends its
 * public key proves possession twice with the same key (before issuance and
 * after the burn), so only the freshness of the nonce tells the two apart;
 * the station must refuse the second */
static void
fst_faults_replayed_signature_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "FT-REPLAY-1";
	const gchar *extra[] = {"--no-csr", "--fault-replay-signature", NULL};
	g_autoptr(FstProvisionResult) r = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	FstSim *sim;

	fst_profile_free(fx->profile);
	fx->profile = fst_fixture_profile_with_key_source(fx, "device-public-key");
	sim = fst_fixture_start_sim(fx, uid, extra);
	r = fst_fixture_provision(fx, sim);
	g_assert_error(r->error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_assert_nonnull(strstr(r->error->message, "proof of possession"));
	g_assert_nonnull(strstr(r->error->message, "the certificate issued to it"));
	fst_fixture_assert_rejected(fx, uid, r);
	dev = fst_fixture_find(fx, uid);
	g_assert_cmpint(dev->state, !=, FST_DB_DEVICE_STATE_PROVISIONED);
}

/* key injection: the station makes the key, records the certificate, sends
 * the key (PUT_KEY), and the device proves it holds it */
static void
fst_faults_key_injection_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "FT-INJECT-1";
	const gchar *extra[] = {"--key-injection-only", NULL};
	g_autoptr(FstProvisionResult) r = NULL;
	g_autoptr(FstProvisionResult) r_csr = NULL;
	FstProfile *csr_profile = fx->profile;
	FstKeyPool *pool;
	FstSim *sim;

	/* a profile whose devices make their own keys needs no pool */
	g_assert_null(fst_station_get_key_pool(fx->station, csr_profile));
	fx->profile = fst_fixture_profile_with_key_source(fx, "station-generated");

	sim = fst_fixture_start_sim(fx, uid, extra);
	r = fst_fixture_provision(fx, sim);
	fst_fixture_assert_provisioned(fx, uid, r);
	/* the device never made a CSR: the key came from the station */
	g_assert_null(fst_fixture_dump(fx, uid, "csr"));
	/* the station keeps keys of the profile's type ready for the next device */
	pool = fst_station_get_key_pool(fx->station, fx->profile);
	g_assert_nonnull(pool);
	g_assert_true(pool == fst_station_get_key_pool(fx->station, fx->profile));
	g_assert_true(fst_key_pool_wait_ready(pool, FST_KEY_TYPE_EC_P256, 1, 10000));

	/* the CSR profile on this device: refused, the device cannot make keys */
	fst_profile_free(fx->profile);
	fx->profile = csr_profile;
	r_csr = fst_fixture_provision(fx, sim);
	g_assert_error(r_csr->error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_null(r_csr->serial_hex);
}

int
main(int argc, char **argv)
{
	g_setenv(FST_ENV_CA_PASSPHRASE, "faults-test-passphrase", TRUE);
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn)                                                                              \
	g_test_add(path, FstFixture, NULL, fst_fixture_setup, fn, fst_fixture_teardown)
	ADD("/fst/faults/bit-errors", fst_faults_bit_errors_test);
	ADD("/fst/faults/drop", fst_faults_drop_test);
	ADD("/fst/faults/disconnect", fst_faults_disconnect_test);
	ADD("/fst/faults/stall", fst_faults_stall_test);
	ADD("/fst/faults/reboot-in-write", fst_faults_reboot_test);
	ADD("/fst/faults/corrupt", fst_faults_corrupt_test);
	g_test_add("/fst/faults/corrupt-read-back",
	           FstFixture,
	           GINT_TO_POINTER(1),
	           fst_fixture_setup,
	           fst_faults_corrupt_test,
	           fst_fixture_teardown);
	ADD("/fst/verify/modes", fst_verify_modes_test);
	ADD("/fst/faults/storage-full", fst_faults_storage_full_test);
	ADD("/fst/faults/wrong-key", fst_faults_wrong_key_test);
	ADD("/fst/faults/replayed-signature", fst_faults_replayed_signature_test);
	ADD("/fst/devices/key-injection", fst_faults_key_injection_test);
	ADD("/fst/devices/device-public-key", fst_keys_device_public_key_test);
	ADD("/fst/devices/device-public-key-unproven", fst_keys_device_public_key_unproven_test);
#undef ADD
	return g_test_run();
}
