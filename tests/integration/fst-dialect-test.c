/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The dialect registry (protocols/fst-dialect.h) and fst_device_new_for_port():
 * a second dialect, registered by this test, is chosen by name and driven by
 * the real gang and pipeline, with a profile key passed to it through the
 * set_option hook. The "loopback" dialect keeps its board in memory (an
 * OpenSSL key, a CSR, the objects written) and only needs a port the gang can
 * lock and open: a pty.
 */
#define G_LOG_DOMAIN "FstDialectTest"

#include <glib/gstdio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pty.h>
#include <string.h>
#include <unistd.h>

#include "fst-dialect.h"
#include "fst-error.h"
#include "fst-fsp-device.h"
#include "fst-gang.h"
#include "fst-openssl-common.h"
#include "fst-ports.h"
#include "fst-station.h"

#define LOOPBACK_UID "LOOP-0001"
#define LOOPBACK_PREFIX "loopback proof\n"

/* the board behind the loopback port: what a device would keep in flash */
static struct {
	GMutex lock;
	EVP_PKEY *key;                    /* (owned) (nullable) */
	GBytes *objects[FST_OBJECT_LAST]; /* (owned) (nullable) */
	gchar *sec_tag;                   /* (owned) (nullable): from set_option */
	guint n_identify;
	/* a board that proved possession is taken off the fixture: the next
	 * identify meets the next board, with the next uid */
	gboolean done;
	guint n_boards;
} board;

#define FST_TYPE_LOOPBACK_DEVICE (fst_loopback_device_get_type())
G_DECLARE_FINAL_TYPE(FstLoopbackDevice, fst_loopback_device, FST, LOOPBACK_DEVICE, FstDevice)

struct _FstLoopbackDevice {
	FstDevice parent_instance;
};

G_DEFINE_TYPE(FstLoopbackDevice, fst_loopback_device, FST_TYPE_DEVICE)

static gboolean
fst_loopback_device_identify(FstDevice *device, GCancellable *cancellable, GError **error)
{
	g_autofree gchar *uid = NULL;
	g_autofree gchar *model = g_strdup("nrf9160-loopback");
	g_autofree gchar *firmware = g_strdup("1.0");
	FstDeviceInfo info = {
	    .uid = uid,
	    .model = model,
	    .firmware = firmware,
	    .protocol_version = 1,
	    .key_types = FST_KEY_TYPE_EC_P256,
	    .validation = FST_VALIDATION_ECDSA_P256,
	    .can_csr = TRUE,
	    .can_sign = TRUE,
	    .format = FST_CRED_FORMAT_DER,
	    .cred_slots = 1,
	};
	info.capacity[FST_OBJECT_DEVICE_CERT] = 4096;
	info.capacity[FST_OBJECT_CA_CHAIN] = 4096;
	info.capacity[FST_OBJECT_TRUST_ROOTS] = 8192;
	g_mutex_lock(&board.lock);
	board.n_identify++;
	if (board.done) {
		for (guint i = 0; i < FST_OBJECT_LAST; i++)
			g_clear_pointer(&board.objects[i], g_bytes_unref);
		board.done = FALSE;
		board.n_boards++;
	}
	uid = g_strdup_printf("LOOP-%04u", board.n_boards + 1);
	g_mutex_unlock(&board.lock);
	info.uid = uid;
	fst_device_set_info(device, &info);
	return TRUE;
}

static GBytes *
fst_loopback_device_generate_csr(
    FstDevice *device, guint slot, FstKeyType key_type, GCancellable *cancellable, GError **error)
{
	g_autoptr(X509_REQ) req = X509_REQ_new();
	X509_NAME *name = X509_REQ_get_subject_name(req);
	EVP_PKEY *key = EVP_EC_gen("P-256");
	unsigned char *der = NULL;
	int len;

	g_assert_nonnull(key);
	g_assert_cmpint(key_type, ==, FST_KEY_TYPE_EC_P256);
	g_assert_cmpint(
	    X509_NAME_add_entry_by_txt(
	        name, "CN", MBSTRING_ASC, (const unsigned char *)LOOPBACK_UID, -1, -1, 0),
	    ==,
	    1);
	g_assert_cmpint(X509_REQ_set_pubkey(req, key), ==, 1);
	g_assert_cmpint(X509_REQ_sign(req, key, EVP_sha256()), >, 0);
	len = i2d_X509_REQ(req, &der);
	g_assert_cmpint(len, >, 0);
	g_mutex_lock(&board.lock);
	EVP_PKEY_free(board.key);
	board.key = key;
	g_mutex_unlock(&board.lock);
	{
		GBytes *out = g_bytes_new(der, (gsize)len);
		OPENSSL_free(der);
		return out;
	}
}

static gboolean
fst_loopback_device_write_object(FstDevice *device,
                                 guint slot,
                                 FstObjectKind kind,
                                 GBytes *data,
                                 GCancellable *cancellable,
                                 GError **error)
{
	g_mutex_lock(&board.lock);
	g_clear_pointer(&board.objects[kind], g_bytes_unref);
	board.objects[kind] = g_bytes_ref(data);
	g_mutex_unlock(&board.lock);
	return TRUE;
}

static GBytes *
fst_loopback_device_read_object(
    FstDevice *device, guint slot, FstObjectKind kind, GCancellable *cancellable, GError **error)
{
	GBytes *out;
	g_mutex_lock(&board.lock);
	out = board.objects[kind] != NULL ? g_bytes_ref(board.objects[kind]) : NULL;
	g_mutex_unlock(&board.lock);
	if (out == NULL)
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "loopback: no %s",
		            fst_object_kind_to_string(kind));
	return out;
}

static GBytes *
fst_loopback_device_sign_challenge(FstDevice *device,
                                   guint slot,
                                   GBytes *nonce,
                                   GBytes **message,
                                   GCancellable *cancellable,
                                   GError **error)
{
	g_autoptr(GByteArray) msg = g_byte_array_new();
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	guint8 sig[256];
	size_t sig_len = sizeof(sig);

	g_byte_array_append(msg, (const guint8 *)LOOPBACK_PREFIX, strlen(LOOPBACK_PREFIX));
	g_byte_array_append(msg, g_bytes_get_data(nonce, NULL), g_bytes_get_size(nonce));
	g_mutex_lock(&board.lock);
	g_assert_cmpint(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, board.key), ==, 1);
	g_assert_cmpint(EVP_DigestSign(ctx, sig, &sig_len, msg->data, msg->len), ==, 1);
	board.done = board.objects[FST_OBJECT_DEVICE_CERT] != NULL;
	g_mutex_unlock(&board.lock);
	*message = g_byte_array_free_to_bytes(g_steal_pointer(&msg));
	return g_bytes_new(sig, sig_len);
}

static gboolean
fst_loopback_device_set_option(FstDevice *device,
                               const gchar *key,
                               const gchar *value,
                               GError **error)
{
	if (g_strcmp0(key, "sec-tag") != 0) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_NOT_SUPPORTED, "loopback takes no option %s", key);
		return FALSE;
	}
	g_mutex_lock(&board.lock);
	g_free(board.sec_tag);
	board.sec_tag = g_strdup(value);
	g_mutex_unlock(&board.lock);
	return TRUE;
}

static void
fst_loopback_device_init(FstLoopbackDevice *self)
{
}

static void
fst_loopback_device_class_init(FstLoopbackDeviceClass *klass)
{
	FstDeviceClass *device_class = FST_DEVICE_CLASS(klass);
	device_class->identify = fst_loopback_device_identify;
	device_class->generate_csr = fst_loopback_device_generate_csr;
	device_class->write_object = fst_loopback_device_write_object;
	device_class->read_object = fst_loopback_device_read_object;
	device_class->sign_challenge = fst_loopback_device_sign_challenge;
	device_class->set_option = fst_loopback_device_set_option;
}

/* a pty whose slave stands for the loopback board's port */
typedef struct {
	int master;
	int slave;
	gchar path[64];
} FstPty;

static void
fst_pty_open(FstPty *pty)
{
	g_assert_cmpint(openpty(&pty->master, &pty->slave, pty->path, NULL, NULL), ==, 0);
}

static void
fst_pty_close(FstPty *pty)
{
	close(pty->slave);
	close(pty->master);
}

/* the registry: names, transport kinds, and what fst_device_new_for_port()
 * picks for a port */
static void
fst_dialect_registry_test(void)
{
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) names = NULL;
	g_autoptr(FstDevice) fsp = NULL;
	g_autoptr(FstDevice) loop = NULL;
	g_autoptr(FstDevice) usb = NULL;
	g_autoptr(FstDevice) unknown = NULL;
	g_autofree gchar *table = NULL;
	g_autofree gchar *dir = g_dir_make_tmp("fst-dialect-XXXXXX", NULL);
	FstTransportKind kinds = FST_TRANSPORT_KIND_NONE;
	GType type = G_TYPE_INVALID;
	FstPty pty;

	fst_pty_open(&pty);
	g_assert_true(fst_dialect_lookup("fsp", &type, &kinds));
	g_assert_true(type == FST_TYPE_FSP_DEVICE);
	g_assert_cmpint(kinds, ==, FST_TRANSPORT_KIND_SERIAL | FST_TRANSPORT_KIND_USB);
	g_assert_false(fst_dialect_lookup("loopback", NULL, NULL));

	/* without a dialect asked for, and no table: fsp */
	fsp = fst_device_new_for_port(NULL, pty.path, NULL, 115200, &error);
	g_assert_no_error(error);
	g_assert_true(FST_IS_FSP_DEVICE(fsp));
	g_assert_cmpstr(fst_device_get_dialect(fsp), ==, "fsp");
	g_assert_cmpstr(fst_transport_get_name(fst_device_get_transport(fsp)), ==, pty.path);
	g_assert_cmpuint(fst_transport_get_baud_rate(fst_device_get_transport(fsp)), ==, 115200);
	/* fsp has no options */
	g_assert_false(fst_device_set_option(fsp, "sec-tag", "1", &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_clear_error(&error);

	/* a dialect nobody registered, and a port kind nrf91 (AT commands on a
	 * UART) does not run on */
	unknown = fst_device_new_for_port(NULL, pty.path, "loopback", 0, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "'loopback'"));
	g_assert_nonnull(strstr(error->message, "fsp"));
	g_assert_null(unknown);
	g_clear_error(&error);
	usb = fst_device_new_for_port(NULL, "usb:001-004", "nrf91", 0, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_null(usb);
	g_clear_error(&error);

	/* a known-devices table may name only registered dialects */
	table = g_build_filename(dir, "known-devices.conf", NULL);
	g_assert_true(
	    g_file_set_contents(table, "[usb 1209:0001]\ndialect=loopback\n", -1, &error));
	g_assert_null(fst_known_devices_load(table, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);

	g_assert_true(fst_dialect_register(
	    "loopback", FST_TYPE_LOOPBACK_DEVICE, FST_TRANSPORT_KIND_SERIAL, &error));
	g_assert_no_error(error);
	g_assert_false(fst_dialect_register(
	    "loopback", FST_TYPE_LOOPBACK_DEVICE, FST_TRANSPORT_KIND_SERIAL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);
	g_assert_false(fst_dialect_register(
	    "Bad Name", FST_TYPE_LOOPBACK_DEVICE, FST_TRANSPORT_KIND_SERIAL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);
	g_assert_false(
	    fst_dialect_register("not-a-device", G_TYPE_OBJECT, FST_TRANSPORT_KIND_SERIAL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_CONFIG);
	g_clear_error(&error);
	names = fst_dialect_list();
	g_assert_cmpuint(g_strv_length(names), ==, 3);
	g_assert_cmpstr(names[0], ==, "fsp");
	g_assert_cmpstr(names[1], ==, "nrf91");
	g_assert_cmpstr(names[2], ==, "loopback");
	{
		g_autoptr(FstKnownDevices) known = fst_known_devices_load(table, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(
		    fst_known_devices_lookup(known, 0x1209, 0x0001, NULL), ==, "loopback");
	}
	loop = fst_device_new_for_port(NULL, pty.path, "loopback", 0, &error);
	g_assert_no_error(error);
	g_assert_true(FST_IS_LOOPBACK_DEVICE(loop));
	g_assert_cmpstr(fst_device_get_dialect(loop), ==, "loopback");
	g_assert_true(fst_device_set_option(loop, "sec-tag", "7", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(board.sec_tag, ==, "7");

	/* the built-in dialects cannot be removed */
	fst_dialect_unregister("fsp");
	g_assert_true(fst_dialect_lookup("fsp", NULL, NULL));
	fst_dialect_unregister("nrf91");
	g_assert_true(fst_dialect_lookup("nrf91", NULL, NULL));
	fst_dialect_unregister("loopback");
	g_assert_false(fst_dialect_lookup("loopback", NULL, NULL));

	fst_pty_close(&pty);
	(void)g_remove(table);
	(void)g_rmdir(dir);
}

/* the gang and the pipeline, unchanged, provision a board of the loopback
 * dialect: chosen by name (--dialect), the profile's sec-tag passed through
 * set_option, the profile's objects and format burned */
static void
fst_dialect_gang_test(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-dialect-gang-XXXXXX", NULL);
	g_autofree gchar *cmd = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstStation) station = NULL;
	g_autoptr(FstProfile) profile = NULL;
	g_autoptr(GPtrArray) results = NULL;
	g_autoptr(FstDbDevice) dev = NULL;
	FstGangOptions options = {.dialect = "loopback"};
	FstProvisionResult *r;
	const gchar *ports[2] = {NULL, NULL};
	FstPty pty;

	g_assert_true(fst_dialect_register(
	    "loopback", FST_TYPE_LOOPBACK_DEVICE, FST_TRANSPORT_KIND_SERIAL, &error));
	g_assert_no_error(error);
	fst_pty_open(&pty);
	ports[0] = pty.path;
	g_assert_true(fst_station_init_workspace(dir, "Dialect Test", &error));
	g_assert_no_error(error);
	station = fst_station_open(dir, &error);
	g_assert_no_error(error);
	/* nrf91: models nrf9160*, sec-tag 16842753, PEM, no CA chain object */
	profile = fst_station_load_profile(station, "nrf91", &error);
	g_assert_no_error(error);
	results = fst_gang_run(station, profile, ports, &options, NULL, NULL);

	g_assert_cmpuint(results->len, ==, 1);
	r = g_ptr_array_index(results, 0);
	g_assert_no_error(r->error);
	g_assert_cmpstr(r->uid, ==, LOOPBACK_UID);
	g_assert_nonnull(r->serial_hex);
	g_assert_cmpuint(board.n_identify, >, 0);
	g_assert_cmpstr(board.sec_tag, ==, "16842753");
	g_assert_nonnull(board.objects[FST_OBJECT_DEVICE_CERT]);
	g_assert_nonnull(board.objects[FST_OBJECT_TRUST_ROOTS]);
	g_assert_null(board.objects[FST_OBJECT_CA_CHAIN]);
	{
		GBytes *pem = board.objects[FST_OBJECT_DEVICE_CERT];
		g_autoptr(BIO) bio =
		    BIO_new_mem_buf(g_bytes_get_data(pem, NULL), (int)g_bytes_get_size(pem));
		g_autoptr(X509) cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		g_autoptr(EVP_PKEY) pub = NULL;
		g_assert_nonnull(cert);
		pub = X509_get_pubkey(cert);
		g_assert_cmpint(EVP_PKEY_eq(pub, board.key), ==, 1);
	}
	dev = fst_db_find_device(fst_station_get_db(station), LOOPBACK_UID, &error);
	g_assert_no_error(error);
	g_assert_cmpint(dev->state, ==, FST_DB_DEVICE_STATE_PROVISIONED);
	g_assert_cmpstr(dev->cert->serial_hex, ==, r->serial_hex);

	fst_dialect_unregister("loopback");
	fst_pty_close(&pty);
	cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_assert_cmpint(system(cmd), ==, 0);
}

/* each result handed over as it comes: counted here, none kept by the gang */
static void
fst_dialect_count_result(const FstProvisionResult *result, gpointer user_data)
{
	guint *counts = user_data;
	counts[result->error == NULL ? 0 : 1]++;
}

/* a counted run (provision --count) on the loopback fixture: every board
 * passes; with a result callback the gang keeps no results, so its memory
 * does not grow with the number of boards; without it, one result a board */
static void
fst_dialect_counted_gang_test(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-dialect-count-XXXXXX", NULL);
	g_autofree gchar *cmd = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(FstStation) station = NULL;
	g_autoptr(FstProfile) profile = NULL;
	const gchar *ports[2] = {NULL, NULL};
	FstPty pty;

	g_assert_true(fst_dialect_register(
	    "loopback", FST_TYPE_LOOPBACK_DEVICE, FST_TRANSPORT_KIND_SERIAL, &error));
	g_assert_no_error(error);
	fst_pty_open(&pty);
	ports[0] = pty.path;
	g_assert_true(fst_station_init_workspace(dir, "Count Test", &error));
	g_assert_no_error(error);
	station = fst_station_open(dir, &error);
	g_assert_no_error(error);
	profile = fst_station_load_profile(station, "nrf91", &error);
	g_assert_no_error(error);

	for (guint handed_over = 0; handed_over <= 1; handed_over++) {
		guint counts[2] = {0, 0};
		FstGangOptions options = {
		    .dialect = "loopback",
		    .count = 12,
		    .on_result = handed_over ? fst_dialect_count_result : NULL,
		    .on_result_data = counts,
		};
		guint first = board.n_boards;
		g_autoptr(GPtrArray) results =
		    fst_gang_run(station, profile, ports, &options, NULL, NULL);

		if (!handed_over) {
			for (guint i = 0; i < results->len; i++)
				fst_dialect_count_result(g_ptr_array_index(results, i), counts);
		}
		g_assert_cmpuint(counts[0], ==, 12);
		g_assert_cmpuint(counts[1], ==, 0);
		g_assert_cmpuint(results->len, ==, handed_over ? 0 : 12);
		/* twelve boards, each provisioned once */
		g_assert_cmpuint(board.n_boards - first, >=, 11);
	}

	fst_dialect_unregister("loopback");
	fst_pty_close(&pty);
	cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_assert_cmpint(system(cmd), ==, 0);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_mutex_init(&board.lock);
	g_test_add_func("/fst/dialect/registry", fst_dialect_registry_test);
	g_test_add_func("/fst/dialect/loopback-through-gang", fst_dialect_gang_test);
	g_test_add_func("/fst/dialect/counted-run-keeps-counts", fst_dialect_counted_gang_test);
	return g_test_run();
}
