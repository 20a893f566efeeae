/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nrf91 dialect against the simulated modem: what the modem stores
 * after the station provisioned it, and what the station says when the
 * modem refuses.
 */
#include <gio/gio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <signal.h>
#include <string.h>

#include "fst-dialect.h"
#include "fst-error.h"
#include "fst-nrf91-device.h"
#include "fst-openssl-common.h"
#include "fst-pipeline.h"
#include "fst-serial-transport.h"
#include "fst-station.h"
#include "fst-x509.h"

#define TEST_SEC_TAG 16842753u

typedef struct {
	gchar *workspace;
	FstStation *station;
	FstProfile *profile;
	GSubprocess *sim;
	gchar *port;
	gchar *storage;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	f->workspace = g_dir_make_tmp("fst-nrf91-test-XXXXXX", &error);
	g_assert_no_error(error);
	g_assert_true(fst_station_init_workspace(f->workspace, "nRF91 Test", &error));
	g_assert_no_error(error);
	f->station = fst_station_open(f->workspace, &error);
	g_assert_no_error(error);
	f->profile = fst_station_load_profile(f->station, "nrf91", &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *cmd = g_strdup_printf("rm -rf '%s'", f->workspace);
	if (f->sim != NULL) {
		g_subprocess_send_signal(f->sim, SIGTERM);
		g_subprocess_wait(f->sim, NULL, NULL);
		g_object_unref(f->sim);
	}
	fst_profile_free(f->profile);
	fst_station_unref(f->station);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(f->workspace);
	g_free(f->port);
	g_free(f->storage);
}

/* starts the modem with @extra options (NULL-terminated) */
static void
start_modem(Fixture *f, const gchar *imei, const gchar *const *extra)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GDataInputStream) out = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *line = NULL;

	f->storage = g_strdup_printf("%s/%s.modem", f->workspace, imei);
	g_ptr_array_add(argv, g_strdup(g_getenv("FST_NRF91SIM")));
	g_ptr_array_add(argv, g_strdup("--imei"));
	g_ptr_array_add(argv, g_strdup(imei));
	g_ptr_array_add(argv, g_strdup("--storage"));
	g_ptr_array_add(argv, g_strdup(f->storage));
	for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
		g_ptr_array_add(argv, g_strdup(extra[i]));
	g_ptr_array_add(argv, NULL);
	f->sim = g_subprocess_newv(
	    (const gchar *const *)argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
	g_assert_no_error(error);
	out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(f->sim));
	line = g_data_input_stream_read_line(out, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(line);
	g_assert_true(g_str_has_prefix(line, "READY /"));
	f->port = g_strdup(line + 6);
}

/* the station's device for the modem, through the dialect registry, with
 * the profile's sec_tag as the gang sets it */
static FstDevice *
new_device(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tag =
	    g_strdup_printf("%" G_GINT64_FORMAT, fst_profile_get_sec_tag(f->profile));
	FstDevice *device = fst_dialect_new_device("nrf91", f->port, 0, &error);
	g_assert_no_error(error);
	g_assert_true(FST_IS_NRF91_DEVICE(device));
	g_assert_true(fst_device_set_option(device, "sec-tag", tag, &error));
	g_assert_no_error(error);
	fst_nrf91_device_set_timeout(FST_NRF91_DEVICE(device), 500);
	return device;
}

/* what the modem stores in @tag as @type */
static GBytes *
modem_credential(Fixture *f, guint32 tag, guint type)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *group = g_strdup_printf("%u", tag);
	g_autofree gchar *key = g_strdup_printf("%u", type);
	g_autofree gchar *b64 = NULL;
	guint8 *raw;
	gsize len = 0;

	g_assert_true(g_key_file_load_from_file(kf, f->storage, G_KEY_FILE_NONE, &error));
	g_assert_no_error(error);
	b64 = g_key_file_get_string(kf, group, key, NULL);
	if (b64 == NULL)
		return NULL;
	raw = g_base64_decode(b64, &len);
	return g_bytes_new_take(raw, len);
}

static FstProvisionResult *
provision(Fixture *f)
{
	g_autoptr(FstDevice) device = new_device(f);
	return fst_pipeline_provision(f->station, f->profile, device, NULL, NULL, NULL);
}

/* nrf91.profile end to end: the key made by the modem in the sec_tag, the
 * certificate issued for its CSR as type 1, Amazon Root CA 1 and 3 as one
 * type 0, verified by the modem's SHA-256 of what it stored */
static void
test_provision(Fixture *f, gconstpointer user_data)
{
	g_autoptr(FstProvisionResult) r = NULL;
	g_autoptr(GBytes) cert_pem = NULL;
	g_autoptr(GBytes) roots = NULL;
	g_autoptr(GBytes) key_pem = NULL;
	g_autoptr(BIO) bio = NULL;
	g_autoptr(X509) cert = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *roots_text;

	start_modem(f, "352656100367872", NULL);
	r = provision(f);
	g_assert_no_error(r->error);
	g_assert_cmpstr(r->uid, ==, "352656100367872");
	g_assert_cmpstr(r->model, ==, "nRF9160-SICA");
	g_assert_cmpstr(r->roots, ==, "AmazonRootCA1,AmazonRootCA3");

	/* the certificate in the modem is the one recorded, for the modem's key */
	cert_pem = modem_credential(f, TEST_SEC_TAG, 1);
	g_assert_nonnull(cert_pem);
	bio = BIO_new_mem_buf(g_bytes_get_data(cert_pem, NULL), (int)g_bytes_get_size(cert_pem));
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	g_assert_nonnull(cert);
	key_pem = modem_credential(f, TEST_SEC_TAG, 2);
	g_assert_nonnull(key_pem);
	g_clear_pointer(&bio, BIO_free_all);
	bio = BIO_new_mem_buf(g_bytes_get_data(key_pem, NULL), (int)g_bytes_get_size(key_pem));
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	g_assert_nonnull(key);
	g_assert_cmpint(X509_check_private_key(cert, key), ==, 1);
	dev = fst_db_find_device(fst_station_get_db(f->station), "352656100367872", &error);
	g_assert_no_error(error);
	g_assert_nonnull(dev);
	g_assert_nonnull(dev->cert);
	g_assert_cmpstr(dev->cert->serial_hex, ==, r->serial_hex);

	/* two roots in one type 0 credential */
	roots = modem_credential(f, TEST_SEC_TAG, 0);
	g_assert_nonnull(roots);
	roots_text = g_bytes_get_data(roots, NULL);
	g_assert_nonnull(g_strstr_len(roots_text,
	                              (gssize)g_bytes_get_size(roots),
	                              "-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----"));

	/* provisioned again: the old key is deleted first (AT%CMNG=3) */
	g_clear_pointer(&r, fst_provision_result_free);
	fst_profile_free(f->profile);
	{
		g_autofree gchar *src = g_build_filename(
		    g_getenv("FST_TEMPLATES_DIR"), "profiles", "nrf91.profile", NULL);
		g_autofree gchar *dst =
		    g_build_filename(f->workspace, "nrf91-rework.profile", NULL);
		g_autofree gchar *text = NULL;
		g_autoptr(GString) edited = NULL;
		g_assert_true(g_file_get_contents(src, &text, NULL, &error));
		edited = g_string_new(text);
		g_assert_cmpint(
		    g_string_replace(edited, "on-return=refuse", "on-return=reprovision", 1),
		    ==,
		    1);
		g_assert_true(g_file_set_contents(dst, edited->str, -1, &error));
		f->profile = fst_station_load_profile(f->station, dst, &error);
		g_assert_no_error(error);
	}
	r = provision(f);
	g_assert_no_error(r->error);
	{
		g_autoptr(GBytes) key_pem2 = modem_credential(f, TEST_SEC_TAG, 2);
		g_assert_false(g_bytes_equal(key_pem, key_pem2));
	}
}

/* older firmware: an explicit NULL in the CSR's ECDSA algorithm identifier;
 * accepted, and the CSR signature still verified */
static void
test_null_param(Fixture *f, gconstpointer user_data)
{
	const gchar *extra[] = {"--null-param", NULL};
	g_autoptr(FstProvisionResult) r = NULL;
	g_autoptr(GBytes) cred = NULL;

	start_modem(f, "352656100367873", extra);
	r = provision(f);
	g_assert_no_error(r->error);
	cred = modem_credential(f, TEST_SEC_TAG, 1);
	g_assert_nonnull(cred);
}

/* with the NULL parameter the CSR signature is still checked: a CSR whose
 * signature does not verify is refused, with or without the quirk */
static void
test_null_param_bad_signature(Fixture *f, gconstpointer user_data)
{
	const gchar *extra[] = {"--null-param", "--fault-csr-signature", NULL};
	g_autoptr(FstProvisionResult) r = NULL;

	start_modem(f, "352656100367883", extra);
	r = provision(f);
	g_assert_error(r->error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
	g_assert_nonnull(strstr(r->error->message, "signature"));
	g_assert_null(r->serial_hex);
	g_assert_null(modem_credential(f, TEST_SEC_TAG, 1));
}

static gchar *
write_key(Fixture *f, const gchar *name, EVP_PKEY *key, gboolean private_key)
{
	gchar *path = g_build_filename(f->workspace, name, NULL);
	g_autoptr(BIO) bio = BIO_new_file(path, "w");
	g_assert_nonnull(bio);
	if (private_key)
		g_assert_cmpint(
		    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
	else
		g_assert_cmpint(PEM_write_bio_PUBKEY(bio, key), ==, 1);
	return path;
}

/* the COSE_Sign1 over the CSR verifies against the attestation key the
 * profile gives, and a modem signing with another key is refused */
static void
test_attestation(Fixture *f, gconstpointer user_data)
{
	g_autoptr(EVP_PKEY) identity = EVP_EC_gen("P-256");
	g_autoptr(EVP_PKEY) other = EVP_EC_gen("P-256");
	g_autofree gchar *identity_path = write_key(f, "identity.pem", identity, TRUE);
	g_autofree gchar *anchor_path = write_key(f, "anchor.pem", identity, FALSE);
	g_autofree gchar *other_path = write_key(f, "other.pem", other, FALSE);
	const gchar *extra[] = {"--identity-key", identity_path, NULL};
	g_autoptr(GError) error = NULL;

	start_modem(f, "352656100367874", extra);
	{
		g_autoptr(FstDevice) device = new_device(f);
		g_autoptr(GBytes) csr = NULL;
		g_assert_true(fst_device_set_option(device, "attestation-key", other_path, &error));
		g_assert_no_error(error);
		g_assert_true(fst_transport_open(fst_device_get_transport(device), &error));
		g_assert_no_error(error);
		csr = fst_device_generate_csr(device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
		g_assert_error(error, FST_ERROR, FST_ERROR_VERIFY_FAILED);
		g_assert_nonnull(strstr(error->message, "attestation key"));
		g_assert_null(csr);
		g_clear_error(&error);
	}
	{
		g_autoptr(FstDevice) device = new_device(f);
		g_autoptr(GBytes) csr = NULL;
		g_assert_true(
		    fst_device_set_option(device, "attestation-key", anchor_path, &error));
		g_assert_no_error(error);
		g_assert_true(fst_transport_open(fst_device_get_transport(device), &error));
		g_assert_no_error(error);
		csr = fst_device_generate_csr(device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
		g_assert_no_error(error);
		g_assert_nonnull(csr);
	}
}

/* a fault of the modem and what the station must say */
typedef struct {
	const gchar *imei;
	const gchar *option;
	const gchar *value;
	FstError code;
	const gchar *text;
} FaultCase;

static void
test_fault(Fixture *f, gconstpointer user_data)
{
	const FaultCase *c = user_data;
	const gchar *extra[] = {c->option, c->value, NULL};
	g_autoptr(FstProvisionResult) r = NULL;

	start_modem(f, c->imei, extra);
	r = provision(f);
	g_assert_error(r->error, FST_ERROR, c->code);
	g_assert_nonnull(strstr(r->error->message, c->text));
	/* the station names the port and the modem */
	g_assert_nonnull(strstr(r->error->message, f->port));
	g_assert_nonnull(strstr(r->error->message, c->imei));
}

static const FaultCase fault_active = {
    "352656100367875", "--fault-stay-active", NULL, FST_ERROR_BUSY, "+CME ERROR: 518"};
static const FaultCase fault_keygen = {
    "352656100367876", "--fault-keygen", "523", FST_ERROR_INTERNAL, "+CME ERROR: 523"};
static const FaultCase fault_full = {
    "352656100367877", "--storage-limit", "1500", FST_ERROR_STORAGE_FULL, "+CME ERROR: 515"};
static const FaultCase fault_cose = {
    "352656100367878", "--fault-bad-cose", NULL, FST_ERROR_VERIFY_FAILED, "COSE signature"};
static const FaultCase fault_corrupt = {
    "352656100367879", "--fault-corrupt-cert", NULL, FST_ERROR_VERIFY_FAILED, "SHA-256 differs"};
static const FaultCase fault_power = {
    "352656100367880", "--fault-keygen", "528", FST_ERROR_BUSY, "power-off warning"};

int
main(int argc, char **argv)
{
	g_setenv(FST_ENV_CA_PASSPHRASE, "nrf91-test-passphrase", TRUE);
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn, data) g_test_add(path, Fixture, data, fixture_setup, fn, fixture_teardown)
	ADD("/fst/nrf91/provision", test_provision, NULL);
	ADD("/fst/nrf91/csr-null-parameter", test_null_param, NULL);
	ADD("/fst/nrf91/csr-null-parameter-bad-signature", test_null_param_bad_signature, NULL);
	ADD("/fst/nrf91/attestation-key", test_attestation, NULL);
	ADD("/fst/nrf91/error/not-allowed-while-active", test_fault, &fault_active);
	ADD("/fst/nrf91/error/keygen-failed", test_fault, &fault_keygen);
	ADD("/fst/nrf91/error/memory-full", test_fault, &fault_full);
	ADD("/fst/nrf91/error/power-off-warning", test_fault, &fault_power);
	ADD("/fst/nrf91/cose-not-over-csr", test_fault, &fault_cose);
	ADD("/fst/nrf91/corrupt-certificate", test_fault, &fault_corrupt);
#undef ADD
	return g_test_run();
}
