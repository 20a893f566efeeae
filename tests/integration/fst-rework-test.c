/* SPDX-License-Identifier: Apache-2.0 */
/* Devices that come back and key escrow, against
 * simulated devices on real ptys, a real SQLite file and the real CA:
 * re-provisioning in place and into the alternate credential slot, a cut
 * cable in the middle of the alternate slot, a one-slot device under an A/B
 * profile, trust-only jobs, and a station-generated key escrowed to a
 * certificate, opened again with `openssl cms -decrypt` */

#include <glib/gstdio.h>
#include <openssl/x509.h>
#include <signal.h>
#include <string.h>

#include "fst-error.h"
#include "fst-fsp-device.h"
#include "fst-openssl-common.h"
#include "fst-pipeline.h"
#include "fst-serial-transport.h"
#include "fst-station.h"
#include "fst-x509.h"

typedef struct {
	gchar *workspace;
	FstStation *station;
	GPtrArray *sims; /* (element-type GSubprocess) */
} FstFixture;

/* runs a command; returns its exit status, with its standard output in @out */
static gint
fst_spawn(const gchar *const *argv, gchar **out)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocess) p = g_subprocess_newv(
	    argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
	g_autofree gchar *stdout_buf = NULL;
	g_autofree gchar *stderr_buf = NULL;

	g_assert_no_error(error);
	g_assert_true(
	    g_subprocess_communicate_utf8(p, NULL, NULL, &stdout_buf, &stderr_buf, &error));
	g_assert_no_error(error);
	if (g_subprocess_get_exit_status(p) != 0)
		g_test_message("%s: %s", argv[0], stderr_buf);
	if (out != NULL)
		*out = g_steal_pointer(&stdout_buf);
	return g_subprocess_get_exit_status(p);
}

static void
fst_fixture_setup(FstFixture *fx, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	(void)user_data;
	fx->workspace = g_dir_make_tmp("fst-rework-test-XXXXXX", &error);
	g_assert_no_error(error);
	g_assert_true(fst_station_init_workspace(fx->workspace, "Rework Test", &error));
	g_assert_no_error(error);
	fx->station = fst_station_open(fx->workspace, &error);
	g_assert_no_error(error);
	fx->sims = g_ptr_array_new_with_free_func(g_object_unref);
}

static void
fst_fixture_stop_sims(FstFixture *fx)
{
	for (guint i = 0; i < fx->sims->len; i++) {
		GSubprocess *p = g_ptr_array_index(fx->sims, i);
		g_subprocess_send_signal(p, SIGTERM);
		g_subprocess_wait(p, NULL, NULL);
	}
	g_ptr_array_set_size(fx->sims, 0);
}

static void
fst_fixture_teardown(FstFixture *fx, gconstpointer user_data)
{
	g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", fx->workspace);
	(void)user_data;
	fst_fixture_stop_sims(fx);
	g_ptr_array_unref(fx->sims);
	fst_station_unref(fx->station);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(fx->workspace);
}

static gchar *
fst_fixture_storage(FstFixture *fx, const gchar *uid)
{
	return g_strdup_printf("%s/%s.bin", fx->workspace, uid);
}

/* starts a simulator (an ECC board unless @extra says otherwise) and returns its pty */
static gchar *
fst_fixture_start_sim(FstFixture *fx, const gchar *uid, const gchar *const *extra)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(GDataInputStream) in = NULL;
	g_autofree gchar *line = NULL;
	gboolean model_file = FALSE;
	GSubprocess *p;

	for (guint i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (g_strcmp0(extra[i], "--model-file") == 0)
			model_file = TRUE;
	}
	g_ptr_array_add(argv, g_strdup(g_getenv("FST_DEVSIM")));
	g_ptr_array_add(argv, g_strdup("--uid"));
	g_ptr_array_add(argv, g_strdup(uid));
	g_ptr_array_add(argv, g_strdup("--storage"));
	g_ptr_array_add(argv, fst_fixture_storage(fx, uid));
	if (!model_file) {
		g_ptr_array_add(argv, g_strdup("--key-types"));
		g_ptr_array_add(argv, g_strdup("ec-p256"));
	}
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
	g_assert_nonnull(line);
	g_assert_true(g_str_has_prefix(line, "READY /"));
	return g_strdup(line + 6);
}

/* a shipped profile with @from replaced by @to, saved in the workspace */
static FstProfile *
fst_fixture_profile(FstFixture *fx, const gchar *name, const gchar *from, const gchar *to)
{
	g_autofree gchar *src =
	    g_strdup_printf("%s/profiles/%s.profile", g_getenv("FST_TEMPLATES_DIR"), name);
	g_autofree gchar *dst = g_strdup_printf("%s/%s-variant.profile", fx->workspace, name);
	g_autofree gchar *text = NULL;
	g_autoptr(GString) edited = NULL;
	g_autoptr(GError) error = NULL;
	FstProfile *profile;

	g_assert_true(g_file_get_contents(src, &text, NULL, &error));
	edited = g_string_new(text);
	if (from != NULL)
		g_assert_cmpint(g_string_replace(edited, from, to, 1), ==, 1);
	g_assert_true(g_file_set_contents(dst, edited->str, -1, &error));
	profile = fst_profile_load(dst, &error);
	g_assert_no_error(error);
	return profile;
}

static FstProvisionResult *
fst_fixture_run(FstFixture *fx, const FstProfile *profile, const gchar *port, gboolean trust_only)
{
	g_autoptr(FstTransport) transport = fst_serial_transport_new(port, 0);
	g_autoptr(FstDevice) device = fst_fsp_device_new(transport);
	if (trust_only)
		return fst_pipeline_update_trust(fx->station, profile, device, NULL, NULL, NULL);
	return fst_pipeline_provision(fx->station, profile, device, NULL, NULL, NULL);
}

/* what the simulator's storage holds: an object, or "slots" (which slot is
 * active, the size of each slot's objects and its key's SPKI hash) */
static GBytes *
fst_fixture_dump(FstFixture *fx, const gchar *uid, const gchar *what)
{
	g_autofree gchar *storage = fst_fixture_storage(fx, uid);
	const gchar *argv[] = {g_getenv("FST_DEVSIM"), "--storage", storage, "--dump", what, NULL};
	gint status = 0;
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocess) p = g_subprocess_newv(
	    argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
	g_autoptr(GBytes) stdout_buf = NULL;

	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate(p, NULL, NULL, &stdout_buf, NULL, &error));
	g_assert_no_error(error);
	status = g_subprocess_get_exit_status(p);
	if (status == 1)
		return NULL;
	g_assert_cmpint(status, ==, 0);
	return g_steal_pointer(&stdout_buf);
}

static gchar *
fst_fixture_dump_slots(FstFixture *fx, const gchar *uid)
{
	g_autoptr(GBytes) b = fst_fixture_dump(fx, uid, "slots");
	g_assert_nonnull(b);
	return g_strndup(g_bytes_get_data(b, NULL), g_bytes_get_size(b));
}

/* the line of one slot in a --dump slots output, e.g. "slot A: device-cert=..." */
static gchar *
fst_slot_line(const gchar *slots, gchar slot)
{
	g_auto(GStrv) lines = g_strsplit(slots, "\n", -1);
	g_autofree gchar *prefix = g_strdup_printf("slot %c:", slot);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], prefix))
			return g_strdup(lines[i]);
	}
	g_assert_not_reached();
	return NULL;
}

/* the device-cert object the station writes for @cert (PEM devices) */
static GBytes *
fst_expected_cert_object(const FstDbCert *cert, FstCredFormat format)
{
	g_autoptr(GPtrArray) ders = g_ptr_array_new();
	g_ptr_array_add(ders, cert->der);
	return fst_x509_bundle_encode(ders, format);
}

static FstDbCert *
fst_fixture_cert(FstFixture *fx, const gchar *serial)
{
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(GError) error = NULL;
	FstDbCertFilter filter = {0};

	certs = fst_db_list_certificates(fst_station_get_db(fx->station), &filter, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < certs->len; i++) {
		FstDbCert *c = g_ptr_array_index(certs, i);
		if (g_strcmp0(c->serial_hex, serial) == 0)
			return g_ptr_array_steal_index(certs, i);
	}
	g_assert_not_reached();
	return NULL;
}

static gint
fst_fixture_cert_slot(FstFixture *fx, const gchar *serial)
{
	g_autoptr(FstDbCert) c = fst_fixture_cert(fx, serial);
	return c->slot;
}

static FstCertState
fst_fixture_cert_state(FstFixture *fx, const gchar *serial)
{
	g_autoptr(FstDbCert) c = fst_fixture_cert(fx, serial);
	return c->state;
}

/* asserts that slot @slot reads the same (or not, with @same FALSE) in two
 * --dump slots outputs */
static void
fst_assert_slot(const gchar *slots_a, const gchar *slots_b, gchar slot, gboolean same)
{
	g_autofree gchar *a = fst_slot_line(slots_a, slot);
	g_autofree gchar *b = fst_slot_line(slots_b, slot);
	if (same)
		g_assert_cmpstr(a, ==, b);
	else
		g_assert_cmpstr(a, !=, b);
}

/* the deactivation queue rows of one certificate */
static guint
fst_fixture_count_deactivations(FstFixture *fx, const gchar *serial)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) rows =
	    fst_db_list_registrations(fst_station_get_db(fx->station), "deactivate", NULL, &error);
	guint n = 0;
	g_assert_no_error(error);
	for (guint i = 0; i < rows->len; i++) {
		FstDbRegistration *r = g_ptr_array_index(rows, i);
		if (g_strcmp0(r->serial_hex, serial) == 0) {
			g_assert_cmpstr(r->state, ==, "pending");
			n++;
		}
	}
	return n;
}

/* runs one SQL query on the station database with the sqlite3 shell */
static gchar *
fst_fixture_sql(FstFixture *fx, const gchar *sql)
{
	g_autofree gchar *db = g_build_filename(fx->workspace, "station.db", NULL);
	const gchar *argv[] = {"sqlite3", "-batch", "-noheader", db, sql, NULL};
	g_autofree gchar *out = NULL;
	g_assert_cmpint(fst_spawn(argv, &out), ==, 0);
	return g_strdup(g_strstrip(out));
}

/* single slot: a new certificate in place, the old one superseded and queued
 * for deactivation, the history keeps both */
static void
fst_rework_single_test(FstFixture *fx, gconstpointer user_data)
{
	FstDb *db = fst_station_get_db(fx->station);
	g_autoptr(FstProfile) profile =
	    fst_fixture_profile(fx, "aws-iot-ecc", "on-return=refuse", "on-return=reprovision");
	g_autofree gchar *port = fst_fixture_start_sim(fx, "RW-SINGLE-1", NULL);
	g_autoptr(FstProvisionResult) r1 = fst_fixture_run(fx, profile, port, FALSE);
	g_autoptr(FstProvisionResult) r2 = NULL;
	g_autoptr(FstDbCert) old = NULL;
	g_autoptr(FstDbCert) new = NULL;
	g_autoptr(FstDbCert) active = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GBytes) stored = NULL;
	g_autoptr(GBytes) expected = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(GError) error = NULL;
	FstDbCertFilter filter = {.device_uid = "RW-SINGLE-1"};

	(void)user_data;
	g_assert_no_error(r1->error);
	g_assert_cmpuint(fst_fixture_count_deactivations(fx, r1->serial_hex), ==, 0);
	r2 = fst_fixture_run(fx, profile, port, FALSE);
	g_assert_no_error(r2->error);
	g_assert_cmpstr(r1->serial_hex, !=, r2->serial_hex);

	/* the device holds the new certificate */
	new = fst_fixture_cert(fx, r2->serial_hex);
	stored = fst_fixture_dump(fx, "RW-SINGLE-1", "device-cert");
	expected = fst_expected_cert_object(new, FST_CRED_FORMAT_PEM);
	g_assert_true(g_bytes_equal(stored, expected));
	g_assert_cmpint(new->state, ==, FST_CERT_STATE_VERIFIED);
	g_assert_cmpint(new->slot, ==, 0);

	/* the old one superseded and queued for deactivation, both kept */
	old = fst_fixture_cert(fx, r1->serial_hex);
	g_assert_cmpint(old->state, ==, FST_CERT_STATE_SUPERSEDED);
	g_assert_cmpuint(fst_fixture_count_deactivations(fx, r1->serial_hex), ==, 1);
	g_assert_cmpuint(fst_fixture_count_deactivations(fx, r2->serial_hex), ==, 0);
	certs = fst_db_list_certificates(db, &filter, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 2);
	active = fst_db_get_active_certificate(db, "RW-SINGLE-1", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(active->serial_hex, ==, r2->serial_hex);
	dev = fst_db_find_device(db, "RW-SINGLE-1", &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);

	/* fleetstation show: the slot, the superseded state and the queue */
	{
		const gchar *argv[] = {g_getenv("FST_STATION"),
		                       "show",
		                       "--workspace",
		                       fx->workspace,
		                       "RW-SINGLE-1",
		                       NULL};
		g_autofree gchar *out = NULL;
		g_autofree gchar *line = NULL;
		g_assert_cmpint(fst_spawn(argv, &out), ==, 0);
		g_test_message("%s", out);
		line = g_strdup_printf("%s superseded slot A", r1->serial_hex);
		g_assert_nonnull(strstr(out, line));
		g_assert_nonnull(strstr(out, "deactivation pending (*)"));
		g_free(line);
		line = g_strdup_printf("%s verified   slot A", r2->serial_hex);
		g_assert_nonnull(strstr(out, line));
	}
}

/* one slot: a device whose new certificate was committed over the old one
 * and that then fails (here the read-back: the device stored the certificate
 * with a bit flipped) no longer holds the old one: the new certificate is
 * revoked, and the old one is superseded and queued for deactivation all the
 * same, so that nothing is left "in service" that the device does not hold */
static void
fst_rework_single_failure_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "RW-SINGLE-FAIL-1";
	const gchar *corrupt[] = {"--fault-corrupt", "device-cert", NULL};
	FstDb *db = fst_station_get_db(fx->station);
	g_autoptr(FstProfile) profile =
	    fst_fixture_profile(fx, "aws-iot-ecc", "on-return=refuse", "on-return=reprovision");
	g_autofree gchar *port = fst_fixture_start_sim(fx, uid, NULL);
	g_autofree gchar *port2 = NULL;
	g_autoptr(FstProvisionResult) r1 = NULL;
	g_autoptr(FstProvisionResult) r2 = NULL;
	g_autoptr(FstDbCert) old = NULL;
	g_autoptr(FstDbCert) new = NULL;
	g_autoptr(FstDbCert) active = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GError) error = NULL;

	(void)user_data;
	r1 = fst_fixture_run(fx, profile, port, FALSE);
	g_assert_no_error(r1->error);
	fst_fixture_stop_sims(fx);

	port2 = fst_fixture_start_sim(fx, uid, corrupt);
	r2 = fst_fixture_run(fx, profile, port2, FALSE);
	g_assert_error(r2->error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_assert_nonnull(r2->serial_hex);
	new = fst_fixture_cert(fx, r2->serial_hex);
	g_assert_cmpint(new->state, ==, FST_CERT_STATE_REVOKED);
	old = fst_fixture_cert(fx, r1->serial_hex);
	g_assert_cmpint(old->state, ==, FST_CERT_STATE_SUPERSEDED);
	g_assert_cmpuint(fst_fixture_count_deactivations(fx, r1->serial_hex), ==, 1);
	active = fst_db_get_active_certificate(db, uid, &error);
	g_assert_no_error(error);
	g_assert_null(active);
	dev = fst_db_find_device(db, uid, &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_FAILED);
}

/* A/B: the new credentials go to slot B, read back, proven and ACTIVATEd;
 * slot A stays intact; a second rotation goes back to A */
static void
fst_rework_ab_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "RW-AB-1";
	const gchar *extra[] = {"--cred-slots", "2", NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) profile =
	    fst_station_load_profile(fx->station, "aws-iot-ecc-rework", &error);
	g_autofree gchar *port = fst_fixture_start_sim(fx, uid, extra);
	g_autoptr(FstProvisionResult) r1 = NULL;
	g_autoptr(FstProvisionResult) r2 = NULL;
	g_autoptr(FstProvisionResult) r3 = NULL;
	g_autoptr(GBytes) cert_a = NULL;
	g_autoptr(GBytes) cert_b = NULL;
	g_autoptr(GBytes) now = NULL;
	g_autofree gchar *slots1 = NULL;
	g_autofree gchar *slots2 = NULL;
	g_autofree gchar *slots3 = NULL;
	g_autofree gchar *a1 = NULL;

	(void)user_data;
	g_assert_no_error(error);
	/* a new device: its active slot, A, as a first provisioning */
	r1 = fst_fixture_run(fx, profile, port, FALSE);
	g_assert_no_error(r1->error);
	slots1 = fst_fixture_dump_slots(fx, uid);
	g_test_message("%s", slots1);
	g_assert_true(g_str_has_prefix(slots1, "active-slot=0\n"));
	a1 = fst_slot_line(slots1, 'A');
	g_assert_null(strstr(a1, "key=none"));
	cert_a = fst_fixture_dump(fx, uid, "device-cert");
	g_assert_cmpint(fst_fixture_cert_slot(fx, r1->serial_hex), ==, 0);

	/* back for rotation: slot B, activated; slot A untouched */
	r2 = fst_fixture_run(fx, profile, port, FALSE);
	g_assert_no_error(r2->error);
	slots2 = fst_fixture_dump_slots(fx, uid);
	g_test_message("%s", slots2);
	g_assert_true(g_str_has_prefix(slots2, "active-slot=1\n"));
	fst_assert_slot(slots2, slots1, 'A', TRUE);
	now = fst_fixture_dump(fx, uid, "device-cert");
	g_assert_true(g_bytes_equal(now, cert_a));
	cert_b = fst_fixture_dump(fx, uid, "device-cert-b");
	{
		g_autoptr(FstDbCert) c2 = fst_fixture_cert(fx, r2->serial_hex);
		g_autoptr(FstDbCert) c1 = fst_fixture_cert(fx, r1->serial_hex);
		g_autoptr(GBytes) expected = fst_expected_cert_object(c2, FST_CRED_FORMAT_PEM);
		g_assert_true(g_bytes_equal(cert_b, expected));
		g_assert_cmpint(c2->slot, ==, 1);
		g_assert_cmpint(c2->state, ==, FST_CERT_STATE_VERIFIED);
		g_assert_cmpint(c1->state, ==, FST_CERT_STATE_SUPERSEDED);
		g_assert_cmpuint(fst_fixture_count_deactivations(fx, r1->serial_hex), ==, 1);
	}

	/* and again: back to A, B left as it was */
	r3 = fst_fixture_run(fx, profile, port, FALSE);
	g_assert_no_error(r3->error);
	slots3 = fst_fixture_dump_slots(fx, uid);
	g_test_message("%s", slots3);
	g_assert_true(g_str_has_prefix(slots3, "active-slot=0\n"));
	fst_assert_slot(slots3, slots2, 'B', TRUE);
	fst_assert_slot(slots3, slots1, 'A', FALSE);
	{
		g_autoptr(FstDbCert) c3 = fst_fixture_cert(fx, r3->serial_hex);
		g_autoptr(FstDbCert) c2 = fst_fixture_cert(fx, r2->serial_hex);
		g_autoptr(GBytes) stored = fst_fixture_dump(fx, uid, "device-cert");
		g_autoptr(GBytes) expected = fst_expected_cert_object(c3, FST_CRED_FORMAT_PEM);
		g_assert_true(g_bytes_equal(stored, expected));
		g_assert_cmpint(c3->slot, ==, 0);
		g_assert_cmpint(c2->state, ==, FST_CERT_STATE_SUPERSEDED);
	}
}

/* a cable cut while the alternate slot is written: the device stays on its
 * old slot, the new certificate is revoked, nothing is superseded; plugged in
 * again, the rotation completes */
static void
fst_rework_ab_disconnect_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "RW-AB-CUT-1";
	const gchar *two[] = {"--cred-slots", "2", NULL};
	const gchar *cut[] = {"--cred-slots", "2", "--fault-disconnect-after", "300", NULL};
	FstDb *db = fst_station_get_db(fx->station);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) profile =
	    fst_station_load_profile(fx->station, "aws-iot-ecc-rework", &error);
	g_autofree gchar *port = fst_fixture_start_sim(fx, uid, two);
	g_autofree gchar *port2 = NULL;
	g_autofree gchar *port3 = NULL;
	g_autoptr(FstProvisionResult) r1 = NULL;
	g_autoptr(FstProvisionResult) r2 = NULL;
	g_autoptr(FstProvisionResult) r3 = NULL;
	g_autoptr(FstDbCert) active = NULL;
	g_autoptr(FstDbCert) failed = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GBytes) cert_a = NULL;
	g_autoptr(GBytes) now = NULL;
	g_autofree gchar *slots1 = NULL;
	g_autofree gchar *slots2 = NULL;

	(void)user_data;
	g_assert_no_error(error);
	r1 = fst_fixture_run(fx, profile, port, FALSE);
	g_assert_no_error(r1->error);
	slots1 = fst_fixture_dump_slots(fx, uid);
	cert_a = fst_fixture_dump(fx, uid, "device-cert");
	fst_fixture_stop_sims(fx);

	port2 = fst_fixture_start_sim(fx, uid, cut);
	r2 = fst_fixture_run(fx, profile, port2, FALSE);
	g_test_message("cut: %s", r2->error != NULL ? r2->error->message : "no error");
	g_assert_nonnull(r2->error);
	g_assert_nonnull(r2->serial_hex);
	g_assert_nonnull(strstr(r2->error->message, "revoked"));
	fst_fixture_stop_sims(fx);

	/* the device: still on slot A, which is as it was */
	slots2 = fst_fixture_dump_slots(fx, uid);
	g_test_message("%s", slots2);
	g_assert_true(g_str_has_prefix(slots2, "active-slot=0\n"));
	fst_assert_slot(slots2, slots1, 'A', TRUE);
	now = fst_fixture_dump(fx, uid, "device-cert");
	g_assert_true(g_bytes_equal(now, cert_a));

	/* the records: the old certificate in service, the new one revoked,
	 * nothing queued for deactivation */
	active = fst_db_get_active_certificate(db, uid, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(active->serial_hex, ==, r1->serial_hex);
	g_assert_cmpint(active->state, ==, FST_CERT_STATE_VERIFIED);
	failed = fst_fixture_cert(fx, r2->serial_hex);
	g_assert_cmpint(failed->state, ==, FST_CERT_STATE_REVOKED);
	g_assert_cmpint(failed->slot, ==, 1);
	g_assert_cmpuint(fst_fixture_count_deactivations(fx, r1->serial_hex), ==, 0);
	dev = fst_db_find_device(db, uid, &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_FAILED);

	/* plugged in again: the rotation completes into slot B */
	port3 = fst_fixture_start_sim(fx, uid, two);
	r3 = fst_fixture_run(fx, profile, port3, FALSE);
	g_assert_no_error(r3->error);
	g_assert_cmpint(fst_fixture_cert_slot(fx, r3->serial_hex), ==, 1);
	g_assert_cmpint(fst_fixture_cert_state(fx, r1->serial_hex), ==, FST_CERT_STATE_SUPERSEDED);
	g_assert_cmpuint(fst_fixture_count_deactivations(fx, r1->serial_hex), ==, 1);
}

/* a one-slot device that comes back under an A/B profile is refused: it
 * could not keep its old credentials while the new ones are proven */
static void
fst_rework_ab_one_slot_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "RW-ONE-1";
	g_autoptr(GError) error = NULL;
	g_autoptr(FstProfile) base = fst_station_load_profile(fx->station, "aws-iot-ecc", &error);
	g_autoptr(FstProfile) rework =
	    fst_station_load_profile(fx->station, "aws-iot-ecc-rework", &error);
	g_autofree gchar *port = fst_fixture_start_sim(fx, uid, NULL);
	g_autoptr(FstProvisionResult) r1 = NULL;
	g_autoptr(FstProvisionResult) r2 = NULL;
	g_autoptr(GBytes) before = NULL;
	g_autoptr(GBytes) after = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	FstDbCertFilter filter = {.device_uid = uid};

	(void)user_data;
	g_assert_no_error(error);
	r1 = fst_fixture_run(fx, base, port, FALSE);
	g_assert_no_error(r1->error);
	before = fst_fixture_dump(fx, uid, "device-cert");
	r2 = fst_fixture_run(fx, rework, port, FALSE);
	g_assert_error(r2->error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(r2->error->message, "one credential slot"));
	g_assert_nonnull(strstr(r2->error->message, uid));
	g_assert_nonnull(strstr(r2->error->message, "credential-slots=single"));
	after = fst_fixture_dump(fx, uid, "device-cert");
	g_assert_true(g_bytes_equal(before, after));
	certs = fst_db_list_certificates(fst_station_get_db(fx->station), &filter, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 1);
}

/* trust-only: just the roots are rewritten and recorded; the certificate and
 * its key stay; refused on a device that is not provisioned */
static void
fst_rework_trust_only_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "RW-ROOTS-1";
	const gchar *extra[] = {"--validation", "rsa,ecdsa-p256,ecdsa-p384", NULL};
	FstDb *db = fst_station_get_db(fx->station);
	g_autoptr(GError) error = NULL;
	/* provisioned first without the reserved roots, as the trust update
	 * will add them */
	g_autoptr(FstProfile) base =
	    fst_fixture_profile(fx,
	                        "aws-iot-ecc",
	                        "include-starfield=false",
	                        "include-starfield=false\ninclude-reserved=false");
	g_autoptr(FstProfile) roots =
	    fst_station_load_profile(fx->station, "aws-iot-trust-update", &error);
	g_autofree gchar *port = fst_fixture_start_sim(fx, uid, extra);
	g_autofree gchar *fresh_port = fst_fixture_start_sim(fx, "RW-ROOTS-NEW", extra);
	g_autoptr(FstProvisionResult) r1 = NULL;
	g_autoptr(FstProvisionResult) r2 = NULL;
	g_autoptr(FstProvisionResult) r3 = NULL;
	g_autoptr(FstProvisionResult) r4 = NULL;
	g_autoptr(GBytes) cert_before = NULL;
	g_autoptr(GBytes) roots_before = NULL;
	g_autoptr(GBytes) cert_after = NULL;
	g_autoptr(GBytes) roots_after = NULL;
	g_autofree gchar *slots_before = NULL;
	g_autofree gchar *slots_after = NULL;
	g_autofree gchar *roots_sha = NULL;
	g_autofree gchar *sql = NULL;
	g_autofree gchar *rows = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	FstDbCertFilter filter = {.device_uid = uid};
	gboolean burn_event = FALSE;

	(void)user_data;
	g_assert_no_error(error);
	r1 = fst_fixture_run(fx, base, port, FALSE);
	g_assert_no_error(r1->error);
	cert_before = fst_fixture_dump(fx, uid, "device-cert");
	roots_before = fst_fixture_dump(fx, uid, "trust-roots");
	slots_before = fst_fixture_dump_slots(fx, uid);

	/* the trust-update profile, and --trust-only with the base profile */
	r2 = fst_fixture_run(fx, roots, port, FALSE);
	g_assert_no_error(r2->error);
	g_assert_null(r2->serial_hex);
	g_test_message("roots %s -> %s", r1->roots, r2->roots);
	g_assert_cmpstr(r2->roots, !=, r1->roots);
	g_assert_nonnull(strstr(r2->roots, "AmazonRootCA4"));
	cert_after = fst_fixture_dump(fx, uid, "device-cert");
	roots_after = fst_fixture_dump(fx, uid, "trust-roots");
	slots_after = fst_fixture_dump_slots(fx, uid);
	g_assert_true(g_bytes_equal(cert_before, cert_after));
	g_assert_cmpstr(slots_before, ==, slots_after);
	g_assert_false(g_bytes_equal(roots_before, roots_after));

	/* recorded: an object row for the new roots without a certificate, the
	 * events, the device still provisioned with its certificate */
	roots_sha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, roots_after);
	sql = g_strdup_printf("SELECT count(*) FROM device_objects WHERE kind = 'trust-roots' AND "
	                      "certificate_id IS NULL AND sha256 = '%s'",
	                      roots_sha);
	rows = fst_fixture_sql(fx, sql);
	g_assert_cmpstr(rows, ==, "1");
	dev = fst_db_find_device(db, uid, &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_cmpstr(dev->cert->serial_hex, ==, r1->serial_hex);
	g_assert_cmpint(dev->cert->state, ==, FST_CERT_STATE_VERIFIED);
	certs = fst_db_list_certificates(db, &filter, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(certs->len, ==, 1);
	events = fst_db_list_events(db, dev->id, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < events->len; i++) {
		FstDbEvent *ev = g_ptr_array_index(events, i);
		if (g_strcmp0(ev->step, "plan") == 0 && ev->detail != NULL &&
		    strstr(ev->detail, "trust-only") != NULL) {
			/* with why: every root fits now */
			g_assert_nonnull(
			    strstr(ev->detail, "(all ATS roots fit: 4,464 of 16,384 "));
			burn_event = TRUE;
		} else if (g_strcmp0(ev->step, "plan") == 0 && ev->detail != NULL) {
			g_assert_nonnull(strstr(ev->detail,
			                        "CA 2/4 omitted: the profile leaves out the "
			                        "reserved roots (include-reserved=false)"));
		}
	}
	g_assert_true(burn_event);

	/* --trust-only with the base profile puts its own selection back */
	r3 = fst_fixture_run(fx, base, port, TRUE);
	g_assert_no_error(r3->error);
	g_assert_cmpstr(r3->roots, ==, r1->roots);
	g_clear_pointer(&roots_after, g_bytes_unref);
	roots_after = fst_fixture_dump(fx, uid, "trust-roots");
	g_assert_true(g_bytes_equal(roots_before, roots_after));
	g_clear_pointer(&cert_after, g_bytes_unref);
	cert_after = fst_fixture_dump(fx, uid, "device-cert");
	g_assert_true(g_bytes_equal(cert_before, cert_after));

	/* a device that was never provisioned: refused, nothing written */
	r4 = fst_fixture_run(fx, roots, fresh_port, FALSE);
	g_assert_error(r4->error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(r4->error->message, "RW-ROOTS-NEW"));
	g_assert_nonnull(strstr(r4->error->message, "provision it first"));
	g_assert_null(fst_fixture_dump(fx, "RW-ROOTS-NEW", "trust-roots"));
}

/* runs a command, failing the test if it fails */
static void
fst_run_cmd(const gchar *const *argv)
{
	g_assert_cmpint(fst_spawn(argv, NULL), ==, 0);
}

/* whether @needle is anywhere in the file at @path (absent file: no) */
static gboolean
fst_file_contains(const gchar *path, GBytes *needle)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	gsize n = 0;
	const gchar *what = g_bytes_get_data(needle, &n);
	if (!g_file_get_contents(path, &data, &len, NULL) || n == 0)
		return FALSE;
	for (gsize i = 0; i + n <= len; i++) {
		if (memcmp(data + i, what, n) == 0)
			return TRUE;
	}
	return FALSE;
}

/* a station-generated key escrowed to a certificate: in the database only as
 * CMS, which the escrow key opens to the private key of the issued
 * certificate; no clear key in the database files */
static void
fst_rework_escrow_test(FstFixture *fx, gconstpointer user_data)
{
	const gchar *uid = "RW-ESCROW-1";
	g_autofree gchar *model = g_strdup_printf("%s/../protocols/sim/models/key-injection.model",
	                                          g_getenv("FST_TEMPLATES_DIR"));
	const gchar *extra[] = {"--model-file", model, NULL};
	g_autofree gchar *key_path = g_build_filename(fx->workspace, "escrow.key", NULL);
	g_autofree gchar *cert_path = g_build_filename(fx->workspace, "escrow.pem", NULL);
	g_autofree gchar *cert_der_path = g_build_filename(fx->workspace, "escrow.der", NULL);
	g_autofree gchar *cms_path = g_build_filename(fx->workspace, "escrow.cms", NULL);
	g_autofree gchar *out_path = g_build_filename(fx->workspace, "device-key.der", NULL);
	g_autofree gchar *profile_path = g_build_filename(fx->workspace, "escrow.profile", NULL);
	g_autofree gchar *db_path = g_build_filename(fx->workspace, "station.db", NULL);
	g_autofree gchar *wal_path = g_build_filename(fx->workspace, "station.db-wal", NULL);
	g_autofree gchar *profile_text = NULL;
	g_autofree gchar *recipient = NULL;
	g_autofree gchar *escrow_sha = NULL;
	g_autofree gchar *port = NULL;
	g_autofree gchar *key_der = NULL;
	g_autofree gchar *escrow_der = NULL;
	g_autofree gchar *slots = NULL;
	g_autofree gchar *spki_sha = NULL;
	g_autofree gchar *want = NULL;
	gsize key_len = 0;
	gsize escrow_len = 0;
	g_autoptr(FstProfile) profile = NULL;
	g_autoptr(FstProvisionResult) r = NULL;
	g_autoptr(FstDbCert) cert = NULL;
	g_autoptr(GBytes) cms = NULL;
	g_autoptr(GBytes) key_bytes = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509) x509 = NULL;
	unsigned char *spki = NULL;
	int spki_len;
	const guint8 *p;

	(void)user_data;
	/* the escrow key pair, made here */
	{
		const gchar *argv[] = {"openssl",
		                       "req",
		                       "-x509",
		                       "-newkey",
		                       "rsa:2048",
		                       "-nodes",
		                       "-keyout",
		                       key_path,
		                       "-out",
		                       cert_path,
		                       "-subj",
		                       "/CN=Rework Test Escrow",
		                       "-days",
		                       "2",
		                       NULL};
		const gchar *der[] = {"openssl",
		                      "x509",
		                      "-in",
		                      cert_path,
		                      "-outform",
		                      "DER",
		                      "-out",
		                      cert_der_path,
		                      NULL};
		fst_run_cmd(argv);
		fst_run_cmd(der);
	}
	profile_text = g_strdup_printf("[profile]\n"
	                               "name=escrow-test\n"
	                               "models=devsim-*\n"
	                               "key-source=station-generated\n"
	                               "key-types=ec-p256\n"
	                               "escrow-certificate=%s\n"
	                               "\n"
	                               "[subject]\n"
	                               "cn={model}-{uid}\n"
	                               "o=Rework Test\n"
	                               "\n"
	                               "[validity]\n"
	                               "days=365\n",
	                               cert_path);
	g_assert_true(g_file_set_contents(profile_path, profile_text, -1, &error));
	profile = fst_profile_load(profile_path, &error);
	g_assert_no_error(error);

	port = fst_fixture_start_sim(fx, uid, extra);
	r = fst_fixture_run(fx, profile, port, FALSE);
	g_assert_no_error(r->error);
	cert = fst_fixture_cert(fx, r->serial_hex);

	/* the escrow row names the recipient certificate */
	cms = fst_db_get_escrow(fst_station_get_db(fx->station), r->serial_hex, &recipient, &error);
	g_assert_no_error(error);
	g_assert_nonnull(cms);
	g_assert_true(g_file_get_contents(cert_der_path, &escrow_der, &escrow_len, NULL));
	escrow_sha =
	    g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)escrow_der, escrow_len);
	g_assert_cmpstr(recipient, ==, escrow_sha);

	/* openssl opens it with the escrow key, to the issued certificate's key */
	g_assert_true(g_file_set_contents(
	    cms_path, g_bytes_get_data(cms, NULL), (gssize)g_bytes_get_size(cms), NULL));
	{
		const gchar *argv[] = {"openssl",
		                       "cms",
		                       "-decrypt",
		                       "-binary",
		                       "-inform",
		                       "DER",
		                       "-in",
		                       cms_path,
		                       "-inkey",
		                       key_path,
		                       "-recip",
		                       cert_path,
		                       "-out",
		                       out_path,
		                       NULL};
		fst_run_cmd(argv);
	}
	g_assert_true(g_file_get_contents(out_path, &key_der, &key_len, NULL));
	p = (const guint8 *)key_der;
	key = d2i_AutoPrivateKey(NULL, &p, (long)key_len);
	g_assert_nonnull(key);
	p = g_bytes_get_data(cert->der, NULL);
	x509 = d2i_X509(NULL, &p, (long)g_bytes_get_size(cert->der));
	g_assert_nonnull(x509);
	g_assert_cmpint(EVP_PKEY_eq(X509_get0_pubkey(x509), key), ==, 1);

	/* the device holds that key too */
	spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509), &spki);
	g_assert_cmpint(spki_len, >, 0);
	spki_sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, spki, (gsize)spki_len);
	OPENSSL_free(spki);
	slots = fst_fixture_dump_slots(fx, uid);
	want = g_strdup_printf("key-sha256=%s", spki_sha);
	g_assert_nonnull(strstr(slots, want));

	/* no clear key in the database files */
	key_bytes = g_bytes_new(key_der, key_len);
	g_assert_true(g_file_test(db_path, G_FILE_TEST_EXISTS));
	g_assert_false(fst_file_contains(db_path, key_bytes));
	g_assert_false(fst_file_contains(wal_path, key_bytes));
	/* ... which the search would find: the CMS itself is there */
	g_assert_true(fst_file_contains(db_path, cms) || fst_file_contains(wal_path, cms));
	OPENSSL_cleanse(key_der, key_len);
	g_remove(out_path);
}

int
main(int argc, char **argv)
{
	g_setenv(FST_ENV_CA_PASSPHRASE, "rework-test-passphrase", TRUE);
	g_test_init(&argc, &argv, NULL);
	g_test_add("/fst/rework/reprovision-single",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_rework_single_test,
	           fst_fixture_teardown);
	g_test_add("/fst/rework/reprovision-single-failure",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_rework_single_failure_test,
	           fst_fixture_teardown);
	g_test_add("/fst/rework/reprovision-ab",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_rework_ab_test,
	           fst_fixture_teardown);
	g_test_add("/fst/rework/ab-disconnect-keeps-old-slot",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_rework_ab_disconnect_test,
	           fst_fixture_teardown);
	g_test_add("/fst/rework/ab-one-slot-refused",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_rework_ab_one_slot_test,
	           fst_fixture_teardown);
	g_test_add("/fst/rework/trust-only",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_rework_trust_only_test,
	           fst_fixture_teardown);
	g_test_add("/fst/rework/escrow",
	           FstFixture,
	           NULL,
	           fst_fixture_setup,
	           fst_rework_escrow_test,
	           fst_fixture_teardown);
	return g_test_run();
}
