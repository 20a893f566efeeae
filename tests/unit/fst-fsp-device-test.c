/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The station driver (FstFspDevice) against the real device SDK (fst_dev) with
 * the simulator's OpenSSL HAL, running in a thread at the other end of a
 * socketpair.
 */
#define G_LOG_DOMAIN "FstFspDeviceTest"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fst-dev.h"
#include "fst-devsim-hal.h"
#include "fst-error.h"
#include "fst-fsp-device.h"
#include "fst-openssl-common.h"
#include "fst-test-fd-transport.h"

#define TEST_UID "TEST-0001"

typedef struct {
	FstDevsimHal *hal;
	FstDevCtx *ctx;
	int device_fd;
	GThread *thread;
	gint stop;
	FstTransport *transport;
	FstDevice *device;
	/* fault injection: drop the first response of this type */
	guint8 drop_type;
	gint dropped;
	gboolean drop_all;
	/* grow every READ answer by one byte, past the negotiated payload */
	gint grow_read;
	/* flip one bit in the next chunk of at least 32 bytes the device receives */
	gint corrupt_rx;
	FstFspDecoder filter_dec;
	guint8 filter_buf[FST_FSP_ENCODED_MAX(FST_DEV_MAX_PAYLOAD)];
	/* what went over the wire: type byte + payload of each frame */
	GPtrArray *requests;  /* (element-type GBytes) */
	GPtrArray *responses; /* (element-type GBytes) */
	GMutex wire_lock;
	FstFspDecoder req_dec;
	guint8 req_buf[FST_FSP_ENCODED_MAX(FST_DEV_MAX_PAYLOAD)];
	gchar *tmpdir;
} Fixture;

/* fixture modes (user_data) */
#define MODE_PUBKEY_ONLY 1
#define MODE_AB 2
#define MODE_NO_DIGEST 3 /* firmware of FSP document 1.4 */
#define MODE_NEWER 4     /* announces FSP 2, speaks 1..2 */

static void
record_frame(Fixture *f, GPtrArray *into, const FstFspPacket *pkt)
{
	GByteArray *rec = g_byte_array_new();
	g_byte_array_append(rec, &pkt->type, 1);
	g_byte_array_append(rec, pkt->payload, pkt->len);
	g_mutex_lock(&f->wire_lock);
	g_ptr_array_add(into, g_byte_array_free_to_bytes(rec));
	g_mutex_unlock(&f->wire_lock);
}

static gpointer
device_thread(gpointer user_data)
{
	Fixture *f = user_data;
	while (!g_atomic_int_get(&f->stop)) {
		struct pollfd pfd = {.fd = f->device_fd, .events = POLLIN};
		guint8 buf[256];
		ssize_t n;
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		n = read(f->device_fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		if (n >= 32 && g_atomic_int_compare_and_exchange(&f->corrupt_rx, 1, 0)) {
			/* a bit flip that makes no 0x00: the frame stays one frame */
			guint8 flipped = buf[n / 2] ^ 0x02;
			buf[n / 2] = flipped != 0 ? flipped : buf[n / 2] ^ 0x04;
		}
		for (ssize_t i = 0; i < n; i++) {
			FstFspPacket pkt;
			if (fst_fsp_decoder_push(&f->req_dec, buf[i], &pkt) == FST_FSP_DEC_FRAME)
				record_frame(f, f->requests, &pkt);
		}
		fst_dev_rx(f->ctx, buf, (size_t)n);
	}
	return NULL;
}

static gboolean
tx_filter(GByteArray *bytes, gpointer user_data)
{
	Fixture *f = user_data;
	if (f->drop_all)
		return FALSE;
	for (gsize i = 0; i < bytes->len; i++) {
		FstFspPacket pkt;
		if (fst_fsp_decoder_push(&f->filter_dec, bytes->data[i], &pkt) != FST_FSP_DEC_FRAME)
			continue;
		record_frame(f, f->responses, &pkt);
		if (g_atomic_int_get(&f->grow_read) &&
		    pkt.type == (FST_FSP_CMD_READ | FST_FSP_RESPONSE_BIT)) {
			guint8 grown[FST_DEV_MAX_PAYLOAD + 1];
			guint8 wire[FST_FSP_ENCODED_MAX(FST_DEV_MAX_PAYLOAD + 1)];
			FstFspPacket big = pkt;
			gsize n;
			memcpy(grown, pkt.payload, pkt.len);
			grown[pkt.len] = 0x42;
			big.payload = grown;
			big.len = pkt.len + 1;
			n = fst_fsp_packet_encode(&big, wire, sizeof(wire));
			g_assert_cmpuint(n, >, 0);
			g_byte_array_set_size(bytes, 0);
			g_byte_array_append(bytes, wire, (guint)n);
			return TRUE;
		}
		if (f->drop_type != 0 && pkt.type == (f->drop_type | FST_FSP_RESPONSE_BIT) &&
		    g_atomic_int_get(&f->dropped) == 0) {
			g_atomic_int_inc(&f->dropped);
			return FALSE;
		}
	}
	return TRUE;
}

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	FstDevsimConfig config = {
	    .uid = TEST_UID,
	    .model = "test-model",
	    .firmware = "9.8.7",
	    .key_types = FST_KEY_TYPE_EC_P256 | FST_KEY_TYPE_EC_P384,
	    .validation = FST_VALIDATION_ECDSA_P256,
	    .format = FST_CRED_FORMAT_DER,
	    .capacity_cert = 2048,
	    .capacity_chain = 4096,
	    .capacity_roots = 1000,
	    /* a device that makes keys but cannot build CSRs */
	    .pubkey_only = GPOINTER_TO_INT(user_data) == MODE_PUBKEY_ONLY,
	    /* a device with A/B credential slots, storage in a file */
	    .cred_slots = GPOINTER_TO_INT(user_data) == MODE_AB ? 2 : 1,
	    .no_digest = GPOINTER_TO_INT(user_data) == MODE_NO_DIGEST,
	    .version_max = GPOINTER_TO_INT(user_data) == MODE_NEWER ? 2 : 0,
	};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *storage = NULL;
	int sv[2];

	f->requests = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	f->responses = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_mutex_init(&f->wire_lock);
	fst_fsp_decoder_init(&f->req_dec, f->req_buf, sizeof(f->req_buf), FST_DEV_MAX_PAYLOAD);
	if (GPOINTER_TO_INT(user_data) == MODE_AB) {
		f->tmpdir = g_dir_make_tmp("fst-fsp-ab-XXXXXX", &error);
		g_assert_no_error(error);
		storage = g_build_filename(f->tmpdir, "device.ini", NULL);
		config.storage_path = storage;
	}
	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
	f->hal = fst_devsim_hal_new(&config, &error);
	g_assert_no_error(error);
	fst_devsim_hal_set_fd(f->hal, sv[1]);
	fst_devsim_hal_set_tx_filter(f->hal, tx_filter, f);
	fst_fsp_decoder_init(
	    &f->filter_dec, f->filter_buf, sizeof(f->filter_buf), FST_DEV_MAX_PAYLOAD);
	f->ctx = g_new0(FstDevCtx, 1);
	g_assert_cmpint(fst_dev_init(f->ctx,
	                             fst_devsim_hal_get_hal(f->hal),
	                             fst_devsim_hal_get_identity(f->hal)),
	                ==,
	                0);
	f->device_fd = sv[1];
	f->thread = g_thread_new("device", device_thread, f);

	f->transport = fst_test_fd_transport_new(sv[0], "test-port-7");
	g_assert_true(fst_transport_open(f->transport, &error));
	g_assert_no_error(error);
	f->device = fst_fsp_device_new(f->transport);
	fst_fsp_device_set_timeout(FST_FSP_DEVICE(f->device), 300);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	g_atomic_int_set(&f->stop, 1);
	g_thread_join(f->thread);
	g_clear_object(&f->device);
	g_clear_object(&f->transport);
	close(f->device_fd);
	g_free(f->ctx);
	fst_devsim_hal_free(f->hal);
	g_ptr_array_unref(f->requests);
	g_ptr_array_unref(f->responses);
	g_mutex_clear(&f->wire_lock);
	if (f->tmpdir != NULL) {
		g_autofree gchar *storage = g_build_filename(f->tmpdir, "device.ini", NULL);
		(void)g_remove(storage);
		(void)g_rmdir(f->tmpdir);
		g_free(f->tmpdir);
	}
}

static void
test_identify(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	const FstDeviceInfo *info;

	g_assert_null(fst_device_get_info(f->device));
	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_no_error(error);
	info = fst_device_get_info(f->device);
	g_assert_nonnull(info);
	g_assert_cmpstr(fst_device_get_dialect(f->device), ==, "fsp");
	g_assert_cmpstr(info->uid, ==, TEST_UID);
	g_assert_cmpstr(info->model, ==, "test-model");
	g_assert_cmpstr(info->firmware, ==, "9.8.7");
	g_assert_cmpuint(info->protocol_version, ==, 1);
	g_assert_cmpuint(info->key_types, ==, FST_KEY_TYPE_EC_P256 | FST_KEY_TYPE_EC_P384);
	g_assert_cmpuint(info->validation, ==, FST_VALIDATION_ECDSA_P256);
	g_assert_true(info->can_csr);
	g_assert_cmpint(info->format, ==, FST_CRED_FORMAT_DER);
	g_assert_cmpuint(info->capacity[FST_OBJECT_DEVICE_CERT], ==, 2048);
	g_assert_cmpuint(info->capacity[FST_OBJECT_CA_CHAIN], ==, 4096);
	g_assert_cmpuint(info->capacity[FST_OBJECT_TRUST_ROOTS], ==, 1000);
	g_assert_cmpuint(info->max_payload, ==, FST_DEV_MAX_PAYLOAD);
	g_assert_cmpuint(fst_fsp_device_get_retransmissions(FST_FSP_DEVICE(f->device)), ==, 0);
}

static void
check_csr(GBytes *csr, gint expected_pkey_bits)
{
	const unsigned char *p = g_bytes_get_data(csr, NULL);
	g_autoptr(X509_REQ) req = d2i_X509_REQ(NULL, &p, (long)g_bytes_get_size(csr));
	EVP_PKEY *pkey;
	X509_NAME *subject;
	gchar cn[128] = {0};

	g_assert_nonnull(req);
	/* the whole buffer is the CSR, nothing trails it */
	g_assert_true(p ==
	              (const unsigned char *)g_bytes_get_data(csr, NULL) + g_bytes_get_size(csr));
	pkey = X509_REQ_get0_pubkey(req);
	g_assert_nonnull(pkey);
	g_assert_cmpint(EVP_PKEY_get_bits(pkey), ==, expected_pkey_bits);
	g_assert_cmpint(X509_REQ_verify(req, pkey), ==, 1);
	subject = X509_REQ_get_subject_name(req);
	g_assert_cmpint(X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof(cn)), >, 0);
	g_assert_cmpstr(cn, ==, TEST_UID);
}

static void
test_generate_csr(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) csr384 = NULL;
	g_autoptr(GBytes) stored = NULL;
	g_autoptr(GBytes) rsa = NULL;

	csr = fst_device_generate_csr(f->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(csr);
	check_csr(csr, 256);
	/* the CSR is what the device stored, byte for byte */
	stored = fst_devsim_hal_get_object(f->hal, FST_FSP_OBJ_CSR);
	g_assert_true(g_bytes_equal(csr, stored));

	csr384 = fst_device_generate_csr(f->device, 0, FST_KEY_TYPE_EC_P384, NULL, &error);
	g_assert_no_error(error);
	check_csr(csr384, 384);
	g_assert_false(g_bytes_equal(csr, csr384));
	g_assert_cmpuint(fst_devsim_hal_get_keygen_count(f->hal), ==, 2);

	/* a key type the device did not announce is refused by the station */
	rsa = fst_device_generate_csr(f->device, 0, FST_KEY_TYPE_RSA_2048, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_null(rsa);
	g_assert_nonnull(strstr(error->message, "rsa-2048"));
	g_assert_nonnull(strstr(error->message, "ec-p256,ec-p384"));
	g_assert_cmpuint(fst_devsim_hal_get_keygen_count(f->hal), ==, 2);
}

static GBytes *
make_data(gsize len, guint32 seed)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
	guint8 *buf = g_malloc(len);
	for (gsize i = 0; i < len; i++)
		buf[i] = i % 5 == 0 ? 0 : (guint8)g_rand_int_range(rand, 0, 256);
	return g_bytes_new_take(buf, len);
}

static void
test_write_read(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = make_data(3 * 1024, 11);
	g_autoptr(GBytes) stored = NULL;
	g_autoptr(GBytes) back = NULL;
	g_autoptr(GArray) objs = NULL;
	guint64 written_before = fst_transport_get_bytes_written(f->transport);

	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_CA_CHAIN, data, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(fst_devsim_hal_get_commit_count(f->hal), ==, 1);
	stored = fst_devsim_hal_get_object(f->hal, FST_FSP_OBJ_CA_CHAIN);
	g_assert_true(g_bytes_equal(data, stored));
	/* 3 KiB in 507-byte chunks: 7 WRITEs + COMMIT + HELLO, COBS adds < 1 % */
	g_assert_cmpuint(
	    fst_transport_get_bytes_written(f->transport) - written_before, <, 3 * 1024 + 10 * 20);

	back = fst_device_read_object(f->device, 0, FST_OBJECT_CA_CHAIN, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(data, back));

	/* LIST reports length and the SHA-256 of what is stored */
	objs = fst_fsp_device_list(FST_FSP_DEVICE(f->device), NULL, &error);
	g_assert_no_error(error);
	/* certificate, chain, roots, CSR and the challenge signature */
	g_assert_cmpuint(objs->len, ==, 5);
	for (guint i = 0; i < objs->len; i++) {
		FstFspObjectInfo *o = &g_array_index(objs, FstFspObjectInfo, i);
		if (o->id != FST_FSP_OBJ_CA_CHAIN) {
			g_assert_false(o->flags & FST_FSP_OBJ_FLAG_PRESENT);
			continue;
		}
		g_assert_true(o->flags & FST_FSP_OBJ_FLAG_PRESENT);
		g_assert_cmpuint(o->length, ==, 3 * 1024);
		g_assert_cmpuint(o->capacity, ==, 4096);
	}

	/* an empty object is a valid object */
	{
		g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);
		g_autoptr(GBytes) empty_back = NULL;
		g_assert_true(fst_device_write_object(
		    f->device, 0, FST_OBJECT_DEVICE_CERT, empty, NULL, &error));
		g_assert_no_error(error);
		empty_back =
		    fst_device_read_object(f->device, 0, FST_OBJECT_DEVICE_CERT, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(g_bytes_get_size(empty_back), ==, 0);
	}

	/* erase, then the object is gone */
	g_assert_true(
	    fst_fsp_device_erase(FST_FSP_DEVICE(f->device), FST_OBJECT_CA_CHAIN, NULL, &error));
	g_assert_no_error(error);
	g_clear_pointer(&back, g_bytes_unref);
	back = fst_device_read_object(f->device, 0, FST_OBJECT_CA_CHAIN, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_null(back);
}

static void
test_read_absent(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) back =
	    fst_device_read_object(f->device, 0, FST_OBJECT_DEVICE_CERT, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_null(back);
	g_assert_nonnull(strstr(error->message, "test-port-7"));
	g_assert_nonnull(strstr(error->message, "device-cert"));
}

static void
test_storage_full(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) roots = make_data(1500, 12);
	g_autoptr(GBytes) small = make_data(900, 13);

	/* the station knows the capacity from HELLO and does not even try */
	g_assert_false(
	    fst_device_write_object(f->device, 0, FST_OBJECT_TRUST_ROOTS, roots, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_STORAGE_FULL);
	g_assert_nonnull(strstr(error->message, "trust-roots"));
	g_assert_nonnull(strstr(error->message, "1500"));
	g_assert_nonnull(strstr(error->message, "1000"));
	g_assert_nonnull(strstr(error->message, "fewer roots"));
	g_assert_nonnull(strstr(error->message, "test-port-7"));
	g_clear_error(&error);

	/* the device itself says storage full (its room shrank after HELLO):
	 * the status maps to the same code, and nothing is committed */
	fst_devsim_hal_get_identity(f->hal)->objects[2].capacity = 600;
	g_assert_false(
	    fst_device_write_object(f->device, 0, FST_OBJECT_TRUST_ROOTS, small, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_STORAGE_FULL);
	g_assert_nonnull(strstr(error->message, "trust-roots"));
	g_assert_nonnull(strstr(error->message, "900"));
	g_assert_nonnull(strstr(error->message, "storage full"));
	g_assert_cmpuint(fst_devsim_hal_get_commit_count(f->hal), ==, 0);
	g_assert_null(fst_devsim_hal_get_object(f->hal, FST_FSP_OBJ_TRUST_ROOTS));
}

/* a raw client, to send what the driver never would */
static guint8
raw_transact(Fixture *f, guint8 cmd, guint16 seq, const guint8 *req, gsize len)
{
	g_autoptr(GError) error = NULL;
	guint8 wire[FST_FSP_ENCODED_MAX(FST_DEV_MAX_PAYLOAD)];
	guint8 dbuf[FST_FSP_ENCODED_MAX(FST_DEV_MAX_PAYLOAD)];
	FstFspPacket pkt = {.type = cmd, .seq = seq, .len = (guint16)len, .payload = req};
	FstFspDecoder dec;
	gsize n = fst_fsp_packet_encode(&pkt, wire, sizeof(wire));

	fst_fsp_decoder_init(&dec, dbuf, sizeof(dbuf), FST_DEV_MAX_PAYLOAD);
	g_assert_true(fst_transport_write(f->transport, wire, n, 1000, NULL, &error));
	for (;;) {
		guint8 buf[256];
		gssize got = fst_transport_read(f->transport, buf, sizeof(buf), 2000, NULL, &error);
		g_assert_no_error(error);
		for (gssize i = 0; i < got; i++) {
			FstFspPacket resp;
			if (fst_fsp_decoder_push(&dec, buf[i], &resp) == FST_FSP_DEC_FRAME) {
				g_assert_cmphex(resp.type, ==, cmd | FST_FSP_RESPONSE_BIT);
				g_assert_cmpuint(resp.seq, ==, seq);
				g_assert_cmpuint(resp.len, >=, 1);
				return resp.payload[0];
			}
		}
	}
}

/* the SDK's capacity check at its bound: a WRITE that ends exactly at the
 * object's capacity is staged, one that ends a byte past it answers
 * STORAGE_FULL and drops the staging area; COMMIT's length the same */
static void
test_write_capacity_bound(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	guint8 req[1 + 4 + 201];
	guint8 commit[1 + 4 + FST_FSP_SHA256_SIZE] = {0};
	guint16 seq = 10;

	/* trust roots (index 2): a capacity of 600, three WRITEs of 200 */
	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_no_error(error);
	fst_devsim_hal_get_identity(f->hal)->objects[2].capacity = 600;
	memset(req, 0x11, sizeof(req));
	req[0] = FST_FSP_OBJ_TRUST_ROOTS;
	for (guint32 off = 0; off < 600; off += 200) {
		fst_fsp_put_u32(req + 1, off);
		g_assert_cmpuint(
		    raw_transact(f, FST_FSP_CMD_WRITE, seq++, req, 5 + 200), ==, FST_FSP_STATUS_OK);
	}
	/* the staging area now holds exactly 600 bytes: COMMIT of 601 is too big */
	commit[0] = FST_FSP_OBJ_TRUST_ROOTS;
	fst_fsp_put_u32(commit + 1, 601);
	g_assert_cmpuint(raw_transact(f, FST_FSP_CMD_COMMIT, seq++, commit, sizeof(commit)),
	                 ==,
	                 FST_FSP_STATUS_STORAGE_FULL);

	/* again, with the last WRITE one byte longer: refused */
	for (guint32 off = 0; off < 400; off += 200) {
		fst_fsp_put_u32(req + 1, off);
		g_assert_cmpuint(
		    raw_transact(f, FST_FSP_CMD_WRITE, seq++, req, 5 + 200), ==, FST_FSP_STATUS_OK);
	}
	fst_fsp_put_u32(req + 1, 400);
	g_assert_cmpuint(raw_transact(f, FST_FSP_CMD_WRITE, seq++, req, sizeof(req)),
	                 ==,
	                 FST_FSP_STATUS_STORAGE_FULL);
	/* the staging area is gone: continuing at 400 is a bad offset */
	g_assert_cmpuint(
	    raw_transact(f, FST_FSP_CMD_WRITE, seq++, req, 5 + 200), ==, FST_FSP_STATUS_BAD_OFFSET);
	g_assert_null(fst_devsim_hal_get_object(f->hal, FST_FSP_OBJ_TRUST_ROOTS));
	g_assert_cmpuint(fst_devsim_hal_get_commit_count(f->hal), ==, 0);
}

/* the payload size negotiated in HELLO, through the driver: with a device
 * whose maximum is 300, the station's WRITE requests use exactly 300 bytes,
 * it accepts READ answers of exactly 300 bytes and refuses one of 301 */
static void
test_negotiated_payload_bound(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = make_data(900, 21);
	g_autoptr(GBytes) back = NULL;
	gsize largest_write = 0;
	gsize largest_read = 0;

	fst_devsim_hal_get_identity(f->hal)->max_payload = 300;
	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(fst_device_get_info(f->device)->max_payload, ==, 300);
	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_CA_CHAIN, data, NULL, &error));
	g_assert_no_error(error);
	back = fst_device_read_object(f->device, 0, FST_OBJECT_CA_CHAIN, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(back, data));
	for (guint i = 0; i < f->requests->len; i++) {
		gsize n = 0;
		const guint8 *rec = g_bytes_get_data(g_ptr_array_index(f->requests, i), &n);
		if (rec[0] == FST_FSP_CMD_WRITE)
			largest_write = MAX(largest_write, n - 1);
		/* READ asks for as much as fits an answer: status, total, data */
		if (rec[0] == FST_FSP_CMD_READ) {
			g_assert_cmpuint(n, ==, 1 + 7);
			g_assert_cmpuint(fst_fsp_get_u16(rec + 1 + 5), ==, 300 - 5);
		}
	}
	for (guint i = 0; i < f->responses->len; i++) {
		gsize n = 0;
		const guint8 *rec = g_bytes_get_data(g_ptr_array_index(f->responses, i), &n);
		if (rec[0] == (FST_FSP_CMD_READ | FST_FSP_RESPONSE_BIT))
			largest_read = MAX(largest_read, n - 1);
	}
	g_assert_cmpuint(largest_write, ==, 300);
	g_assert_cmpuint(largest_read, ==, 300);

	/* a device that answers a byte more than was negotiated is refused */
	g_clear_pointer(&back, g_bytes_unref);
	g_atomic_int_set(&f->grow_read, 1);
	back = fst_device_read_object(f->device, 0, FST_OBJECT_CA_CHAIN, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_PROTOCOL);
	g_assert_nonnull(strstr(error->message, "301"));
	g_assert_null(back);
}

/* a request that arrives corrupt is answered with a NAK, and the station
 * sends it again at once: one retransmission, one NAK, no timeout. A device
 * without CAPS NAK, or a station whose HELLO does not ask for it, gets the
 * silent drop of document 1.3 (and the station its timeout) */
static void
test_nak(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = make_data(700, 31);
	g_autoptr(GBytes) back = NULL;
	guint8 hello_old[3] = {FST_FSP_VERSION, 0x00, 0x10};
	guint8 hello_nak[4] = {FST_FSP_VERSION, 0x00, 0x10, FST_FSP_HELLO_FLAG_NAK};
	FstDevIdentity *identity = fst_devsim_hal_get_identity(f->hal);

	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(fst_fsp_device_get_nak(FST_FSP_DEVICE(f->device)));
	g_assert_cmpuint(f->ctx->nak, ==, 1);

	g_atomic_int_set(&f->corrupt_rx, 1);
	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_CA_CHAIN, data, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_atomic_int_get(&f->corrupt_rx), ==, 0);
	g_assert_cmpuint(f->ctx->n_naks, ==, 1);
	g_assert_cmpuint(fst_fsp_device_get_naks(FST_FSP_DEVICE(f->device)), ==, 1);
	g_assert_cmpuint(fst_fsp_device_get_retransmissions(FST_FSP_DEVICE(f->device)), ==, 1);
	back = fst_devsim_hal_get_object(f->hal, FST_FSP_OBJ_CA_CHAIN);
	g_assert_true(g_bytes_equal(back, data));

	/* a station of document 1.3 (no flag in HELLO): no NAK frames */
	g_assert_cmpuint(raw_transact(f, FST_FSP_CMD_HELLO, 40, hello_old, sizeof(hello_old)),
	                 ==,
	                 FST_FSP_STATUS_OK);
	g_assert_cmpuint(f->ctx->nak, ==, 0);
	g_assert_cmpuint(raw_transact(f, FST_FSP_CMD_HELLO, 41, hello_nak, sizeof(hello_nak)),
	                 ==,
	                 FST_FSP_STATUS_OK);
	g_assert_cmpuint(f->ctx->nak, ==, 1);

	/* a device without the capability: the corrupt request is waited out */
	identity->caps &= ~FST_FSP_CAP_NAK;
	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_no_error(error);
	g_assert_false(fst_fsp_device_get_nak(FST_FSP_DEVICE(f->device)));
	g_assert_cmpuint(f->ctx->nak, ==, 0);
	g_atomic_int_set(&f->corrupt_rx, 1);
	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_CA_CHAIN, data, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(f->ctx->n_naks, ==, 1);
	g_assert_cmpuint(fst_fsp_device_get_naks(FST_FSP_DEVICE(f->device)), ==, 1);
	g_assert_cmpuint(fst_fsp_device_get_retransmissions(FST_FSP_DEVICE(f->device)), ==, 2);
}

static void
test_bad_hash_keeps_old(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) good = make_data(700, 14);
	g_autoptr(GBytes) stored = NULL;
	g_autoptr(GBytes) back = NULL;
	guint8 req[1 + 4 + 100];
	guint8 commit[1 + 4 + FST_FSP_SHA256_SIZE] = {0};

	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_DEVICE_CERT, good, NULL, &error));
	g_assert_no_error(error);

	/* stage 100 new bytes, then COMMIT them with a hash that does not match */
	req[0] = FST_FSP_OBJ_DEVICE_CERT;
	fst_fsp_put_u32(req + 1, 0);
	memset(req + 5, 0xaa, 100);
	g_assert_cmpuint(
	    raw_transact(f, FST_FSP_CMD_WRITE, 1, req, sizeof(req)), ==, FST_FSP_STATUS_OK);
	commit[0] = FST_FSP_OBJ_DEVICE_CERT;
	fst_fsp_put_u32(commit + 1, 100);
	memset(commit + 5, 0x5a, FST_FSP_SHA256_SIZE);
	g_assert_cmpuint(raw_transact(f, FST_FSP_CMD_COMMIT, 2, commit, sizeof(commit)),
	                 ==,
	                 FST_FSP_STATUS_BAD_HASH);

	/* the old object is intact, on the device and as read back */
	stored = fst_devsim_hal_get_object(f->hal, FST_FSP_OBJ_DEVICE_CERT);
	g_assert_true(g_bytes_equal(stored, good));
	back = fst_device_read_object(f->device, 0, FST_OBJECT_DEVICE_CERT, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(back, good));
	g_assert_cmpuint(fst_devsim_hal_get_commit_count(f->hal), ==, 1);

	/* the staging area is gone: a COMMIT of it again is refused */
	g_assert_cmpuint(raw_transact(f, FST_FSP_CMD_COMMIT, 3, commit, sizeof(commit)),
	                 ==,
	                 FST_FSP_STATUS_BAD_ARGUMENTS);
	/* the CSR object is read-only, LOCK without its magic word is refused,
	 * PUT_KEY without the capability unsupported, unknown commands unknown */
	req[0] = FST_FSP_OBJ_CSR;
	g_assert_cmpuint(
	    raw_transact(f, FST_FSP_CMD_WRITE, 4, req, sizeof(req)), ==, FST_FSP_STATUS_READ_ONLY);
	g_assert_cmpuint(
	    raw_transact(f, FST_FSP_CMD_LOCK, 5, NULL, 0), ==, FST_FSP_STATUS_BAD_ARGUMENTS);
	g_assert_false(fst_devsim_hal_is_locked(f->hal));
	g_assert_cmpuint(
	    raw_transact(f, FST_FSP_CMD_PUT_KEY, 7, NULL, 0), ==, FST_FSP_STATUS_UNSUPPORTED);
	g_assert_cmpuint(raw_transact(f, 0x3f, 6, NULL, 0), ==, FST_FSP_STATUS_UNKNOWN_COMMAND);
	/* a WRITE that skips ahead is refused */
	req[0] = FST_FSP_OBJ_DEVICE_CERT;
	fst_fsp_put_u32(req + 1, 50);
	g_assert_cmpuint(
	    raw_transact(f, FST_FSP_CMD_WRITE, 7, req, sizeof(req)), ==, FST_FSP_STATUS_BAD_OFFSET);
}

static void
test_retransmit_not_repeated(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = make_data(1200, 15);
	g_autoptr(GBytes) stored = NULL;
	g_autoptr(GBytes) csr = NULL;

	fst_fsp_device_set_timeout(FST_FSP_DEVICE(f->device), 100);
	/* the COMMIT response is lost: the station sends COMMIT again, the device
	 * answers from its cache and commits once */
	f->drop_type = FST_FSP_CMD_COMMIT;
	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_CA_CHAIN, data, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_atomic_int_get(&f->dropped), ==, 1);
	g_assert_cmpuint(fst_fsp_device_get_retransmissions(FST_FSP_DEVICE(f->device)), ==, 1);
	g_assert_cmpuint(fst_devsim_hal_get_commit_count(f->hal), ==, 1);
	g_assert_cmpuint(f->ctx->n_replays, ==, 1);
	stored = fst_devsim_hal_get_object(f->hal, FST_FSP_OBJ_CA_CHAIN);
	g_assert_true(g_bytes_equal(data, stored));

	/* the same for KEYGEN: one key, and the CSR that goes with it */
	g_atomic_int_set(&f->dropped, 0);
	f->drop_type = FST_FSP_CMD_KEYGEN;
	csr = fst_device_generate_csr(f->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(g_atomic_int_get(&f->dropped), ==, 1);
	g_assert_cmpuint(fst_devsim_hal_get_keygen_count(f->hal), ==, 1);
	g_assert_cmpuint(fst_fsp_device_get_retransmissions(FST_FSP_DEVICE(f->device)), ==, 2);
	check_csr(csr, 256);
}

static void
test_timeout(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	gint64 start = g_get_monotonic_time();
	gint64 elapsed_ms;

	f->drop_all = TRUE;
	fst_fsp_device_set_timeout(FST_FSP_DEVICE(f->device), 100);
	fst_fsp_device_set_retries(FST_FSP_DEVICE(f->device), 2);
	g_assert_false(fst_device_identify(f->device, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_TIMED_OUT);
	g_assert_nonnull(strstr(error->message, "test-port-7"));
	g_assert_nonnull(strstr(error->message, "HELLO"));
	g_assert_nonnull(strstr(error->message, "check the cable"));
	g_assert_cmpuint(fst_fsp_device_get_retransmissions(FST_FSP_DEVICE(f->device)), ==, 2);
	/* 3 attempts of 100 ms + 20 ms command time each */
	elapsed_ms = (g_get_monotonic_time() - start) / 1000;
	g_assert_cmpint(elapsed_ms, >=, 340);
	g_assert_cmpint(elapsed_ms, <, 2000);
	/* the device did answer each time; HELLO always runs, it is not cached */
	g_assert_cmpuint(f->ctx->n_commands, ==, 3);
}

/* the requests of @type sent so far */
static guint
count_requests(Fixture *f, guint8 type)
{
	guint n = 0;
	g_mutex_lock(&f->wire_lock);
	for (guint i = 0; i < f->requests->len; i++) {
		GBytes *rec = g_ptr_array_index(f->requests, i);
		if (((const guint8 *)g_bytes_get_data(rec, NULL))[0] == type)
			n++;
	}
	g_mutex_unlock(&f->wire_lock);
	return n;
}

static void
assert_sha256(GBytes *digest, GBytes *data)
{
	guint8 want[32];
	SHA256(g_bytes_get_data(data, NULL), g_bytes_get_size(data), want);
	g_assert_cmpuint(g_bytes_get_size(digest), ==, 32);
	g_assert_cmpmem(g_bytes_get_data(digest, NULL), 32, want, 32);
}

static void
test_digest(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = make_data(3 * 1024, 21);
	g_autoptr(GBytes) digest = NULL;
	g_autoptr(GBytes) absent = NULL;
	guint64 read_before;
	guint32 length = 0;

	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(fst_device_get_info(f->device)->can_digest);
	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_CA_CHAIN, data, NULL, &error));
	g_assert_no_error(error);

	/* one request of one object id, one answer of length and hash: the 3 KiB
	 * do not cross the wire again */
	read_before = fst_transport_get_bytes_read(f->transport);
	digest = fst_device_digest_object(f->device, 0, FST_OBJECT_CA_CHAIN, &length, NULL, &error);
	g_assert_no_error(error);
	assert_sha256(digest, data);
	g_assert_cmpuint(length, ==, 3 * 1024);
	g_assert_cmpuint(fst_transport_get_bytes_read(f->transport) - read_before, <, 64);
	g_assert_cmpuint(count_requests(f, FST_FSP_CMD_DIGEST), ==, 1);
	g_assert_cmpuint(count_requests(f, FST_FSP_CMD_READ), ==, 0);
	g_assert_cmpuint(count_requests(f, FST_FSP_CMD_LIST), ==, 0);

	/* an object the device does not hold */
	absent = fst_device_digest_object(f->device, 0, FST_OBJECT_TRUST_ROOTS, NULL, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_null(absent);
}

static void
test_digest_unsupported(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = make_data(100, 22);
	g_autoptr(GBytes) digest = NULL;

	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_CA_CHAIN, data, NULL, &error));
	g_assert_no_error(error);
	g_assert_false(fst_device_get_info(f->device)->can_digest);
	/* refused by the station: nothing is sent to a firmware without it */
	digest = fst_device_digest_object(f->device, 0, FST_OBJECT_CA_CHAIN, NULL, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, "verify=readback"));
	g_assert_null(digest);
	g_assert_cmpuint(count_requests(f, FST_FSP_CMD_DIGEST), ==, 0);
}

/* the digest is of what the storage medium holds, read again, not of a RAM
 * copy: a flash that changed after the commit is seen */
static void
test_ab_digest_reads_storage(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = make_data(700, 23);
	g_autoptr(GBytes) digest = NULL;
	g_autoptr(GBytes) digest_b = NULL;
	g_autoptr(GBytes) rotten = NULL;
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *path = g_build_filename(f->tmpdir, "device.ini", NULL);
	g_autofree gchar *b64 = NULL;
	guint8 *raw;

	g_assert_true(
	    fst_device_write_object(f->device, 1, FST_OBJECT_DEVICE_CERT, data, NULL, &error));
	g_assert_no_error(error);
	digest_b =
	    fst_device_digest_object(f->device, 1, FST_OBJECT_DEVICE_CERT, NULL, NULL, &error);
	g_assert_no_error(error);
	assert_sha256(digest_b, data);
	/* slot A holds nothing */
	digest = fst_device_digest_object(f->device, 0, FST_OBJECT_DEVICE_CERT, NULL, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);

	/* one bit rots in the file behind the device's back */
	g_assert_true(g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, &error));
	raw = g_memdup2(g_bytes_get_data(data, NULL), g_bytes_get_size(data));
	raw[100] ^= 0x10;
	rotten = g_bytes_new_take(raw, g_bytes_get_size(data));
	b64 = g_base64_encode(raw, g_bytes_get_size(rotten));
	g_key_file_set_string(kf, "objects", "4", b64);
	g_assert_true(g_key_file_save_to_file(kf, path, &error));
	g_clear_pointer(&digest_b, g_bytes_unref);
	digest_b =
	    fst_device_digest_object(f->device, 1, FST_OBJECT_DEVICE_CERT, NULL, NULL, &error);
	g_assert_no_error(error);
	assert_sha256(digest_b, rotten);
}

/* a device of a newer major version that offers version 1 is spoken to in 1 */
static void
test_newer_version_negotiated_down(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = NULL;
	GBytes *hello;
	const guint8 *p;
	gsize len = 0;

	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(fst_device_get_info(f->device)->protocol_version, ==, 1);
	/* the device did announce 2 */
	g_mutex_lock(&f->wire_lock);
	hello = g_ptr_array_index(f->responses, 0);
	p = g_bytes_get_data(hello, &len);
	g_assert_cmpuint(len, >, 5);
	g_assert_cmpuint(p[0], ==, FST_FSP_CMD_HELLO | FST_FSP_RESPONSE_BIT);
	g_assert_cmpuint(p[2], ==, FST_FSP_TAG_PROTOCOL_VERSION);
	g_assert_cmpuint(p[5], ==, 2);
	g_mutex_unlock(&f->wire_lock);
	/* and the session works */
	csr = fst_device_generate_csr(f->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(csr);
}

static void
test_hello_parser(void)
{
	guint8 buf[256];
	FstFspCursor c;
	FstDeviceInfo info = {0};
	g_autoptr(GError) error = NULL;

	/* a minimal good answer */
	fst_fsp_writer_init(&c, buf, sizeof(buf));
	fst_fsp_tlv_put_u8(&c, FST_FSP_TAG_PROTOCOL_VERSION, 1);
	fst_fsp_tlv_put(&c, FST_FSP_TAG_UID, "ABC", 3);
	fst_fsp_tlv_put_u16(&c, FST_FSP_TAG_MAX_PAYLOAD, 9000);
	fst_fsp_tlv_put(&c, 0x77, "future", 6); /* unknown tags are skipped */
	g_assert_true(fst_fsp_parse_hello(buf, c.pos, &info, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(info.uid, ==, "ABC");
	g_assert_cmpstr(info.model, ==, "");
	g_assert_cmpuint(info.max_payload, ==, FST_FSP_MAX_PAYLOAD_LIMIT);
	g_free(info.uid);
	g_free(info.model);
	g_free(info.firmware);

	/* a uid with a control character */
	fst_fsp_writer_init(&c, buf, sizeof(buf));
	fst_fsp_tlv_put_u8(&c, FST_FSP_TAG_PROTOCOL_VERSION, 1);
	fst_fsp_tlv_put(&c, FST_FSP_TAG_UID, "AB\x1b[2J", 6);
	fst_fsp_tlv_put_u16(&c, FST_FSP_TAG_MAX_PAYLOAD, 512);
	g_assert_false(fst_fsp_parse_hello(buf, c.pos, &info, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* a model of 65 bytes */
	fst_fsp_writer_init(&c, buf, sizeof(buf));
	fst_fsp_tlv_put_u8(&c, FST_FSP_TAG_PROTOCOL_VERSION, 1);
	fst_fsp_tlv_put(&c, FST_FSP_TAG_UID, "A", 1);
	fst_fsp_tlv_put(&c,
	                FST_FSP_TAG_MODEL,
	                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	                65);
	fst_fsp_tlv_put_u16(&c, FST_FSP_TAG_MAX_PAYLOAD, 512);
	g_assert_false(fst_fsp_parse_hello(buf, c.pos, &info, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* no uid; then a version 2 device; then a truncated TLV */
	fst_fsp_writer_init(&c, buf, sizeof(buf));
	fst_fsp_tlv_put_u8(&c, FST_FSP_TAG_PROTOCOL_VERSION, 1);
	fst_fsp_tlv_put_u16(&c, FST_FSP_TAG_MAX_PAYLOAD, 512);
	g_assert_false(fst_fsp_parse_hello(buf, c.pos, &info, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);
	buf[3] = 2;
	fst_fsp_tlv_put(&c, FST_FSP_TAG_UID, "A", 1);
	g_assert_false(fst_fsp_parse_hello(buf, c.pos, &info, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "version 2"));
	g_clear_error(&error);
	buf[3] = 1;
	g_assert_false(fst_fsp_parse_hello(buf, c.pos - 1, &info, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_clear_error(&error);

	/* version 2 offering 1..2 is negotiated down; offering 2..3 is not */
	{
		guint8 range[2] = {1, 2};
		gsize end = c.pos;
		buf[3] = 2;
		fst_fsp_tlv_put(&c, FST_FSP_TAG_VERSIONS, range, sizeof(range));
		g_assert_true(fst_fsp_parse_hello(buf, c.pos, &info, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(info.protocol_version, ==, 1);
		g_free(info.uid);
		g_free(info.model);
		g_free(info.firmware);
		buf[end + 3] = 2;
		buf[end + 4] = 3;
		g_assert_false(fst_fsp_parse_hello(buf, c.pos, &info, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_assert_nonnull(strstr(error->message, "does not offer version 1"));
		g_clear_error(&error);
		buf[3] = 1;
		c.pos = end;
	}

	/* a LIST answer whose object is larger than its capacity */
	{
		guint8 list[1 + FST_FSP_LIST_ENTRY_SIZE] = {1, 1, FST_FSP_OBJ_FLAG_PRESENT};
		g_autoptr(GArray) objs = NULL;
		fst_fsp_put_u32(list + 3, 5000);
		fst_fsp_put_u32(list + 7, 4000);
		objs = fst_fsp_parse_list(list, sizeof(list), &error);
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_assert_null(objs);
		g_clear_error(&error);
		objs = fst_fsp_parse_list(list, sizeof(list) - 1, &error);
		g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
		g_assert_null(objs);
	}
}

/* verifies @sig over @msg with @key, SHA-256 */
static void
check_signature(EVP_PKEY *key, GBytes *msg, GBytes *sig)
{
	g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();
	g_assert_cmpint(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), ==, 1);
	g_assert_cmpint(EVP_DigestVerify(md,
	                                 g_bytes_get_data(sig, NULL),
	                                 g_bytes_get_size(sig),
	                                 g_bytes_get_data(msg, NULL),
	                                 g_bytes_get_size(msg)),
	                ==,
	                1);
}

static GBytes *
make_nonce(guint8 fill)
{
	guint8 nonce[FST_FSP_NONCE_SIZE];
	for (guint i = 0; i < sizeof(nonce); i++)
		nonce[i] = (guint8)(fill + i);
	return g_bytes_new(nonce, sizeof(nonce));
}

/* SIGN_CHALLENGE: NO_KEY before KEYGEN, then a signature by the CSR's key
 * over the FSP prefix and exactly our nonce */
/* KEYGEN form PUBKEY: the new key's SubjectPublicKeyInfo, and the device
 * proves it holds that key (the staged one) before any certificate exists */
static void
test_generate_public_key(Fixture *f, gconstpointer user_data)
{
	const FstDeviceInfo *info;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) spki = NULL;
	g_autoptr(GBytes) nonce = make_nonce(0x51);
	g_autoptr(GBytes) msg = NULL;
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(EVP_PKEY) pkey = NULL;
	const guint8 *p;

	g_assert_true(fst_device_identify(f->device, NULL, &error));
	info = fst_device_get_info(f->device);
	g_assert_true(info->can_export_key);
	g_assert_cmpint(info->can_csr, ==, user_data == NULL);

	spki = fst_device_generate_public_key(f->device, 0, FST_KEY_TYPE_EC_P384, NULL, &error);
	g_assert_no_error(error);
	p = g_bytes_get_data(spki, NULL);
	pkey = d2i_PUBKEY(NULL, &p, (long)g_bytes_get_size(spki));
	g_assert_nonnull(pkey);
	g_assert_true(EVP_PKEY_is_a(pkey, "EC"));
	g_assert_cmpint(EVP_PKEY_get_bits(pkey), ==, 384);
	/* all of the object was the key, nothing after it */
	g_assert_true(p == (const guint8 *)g_bytes_get_data(spki, NULL) + g_bytes_get_size(spki));

	sig = fst_device_sign_challenge(f->device, 0, nonce, &msg, NULL, &error);
	g_assert_no_error(error);
	check_signature(pkey, msg, sig);
	g_assert_cmpuint(fst_devsim_hal_get_keygen_count(f->hal), ==, 1);
}

/* a device without CSR support: the CSR form is refused by the station
 * before anything is sent, and the public-key form works */
static void
test_pubkey_only_device(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = NULL;

	csr = fst_device_generate_csr(f->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_null(csr);
	g_assert_cmpuint(fst_devsim_hal_get_keygen_count(f->hal), ==, 0);
	g_clear_error(&error);
	test_generate_public_key(f, user_data);
}

static void
test_sign_challenge(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) nonce = make_nonce(0x40);
	g_autoptr(GBytes) msg = NULL;
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(X509_REQ) req = NULL;
	const guint8 *p;
	const guint8 *m;
	gsize m_len = 0;

	sig = fst_device_sign_challenge(f->device, 0, nonce, &msg, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "no key"));
	g_assert_null(sig);
	g_clear_error(&error);

	csr = fst_device_generate_csr(f->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_no_error(error);
	sig = fst_device_sign_challenge(f->device, 0, nonce, &msg, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(sig);
	m = g_bytes_get_data(msg, &m_len);
	g_assert_cmpuint(m_len, ==, FST_FSP_POP_MESSAGE_LEN);
	g_assert_cmpmem(m, FST_FSP_POP_PREFIX_LEN, FST_FSP_POP_PREFIX, FST_FSP_POP_PREFIX_LEN);
	g_assert_cmpmem(m + FST_FSP_POP_PREFIX_LEN,
	                FST_FSP_NONCE_SIZE,
	                g_bytes_get_data(nonce, NULL),
	                FST_FSP_NONCE_SIZE);
	p = g_bytes_get_data(csr, NULL);
	req = d2i_X509_REQ(NULL, &p, (long)g_bytes_get_size(csr));
	g_assert_nonnull(req);
	check_signature(X509_REQ_get0_pubkey(req), msg, sig);

	/* a 31-byte challenge is a programming error on the station side */
	{
		g_autoptr(GBytes) short_nonce = g_bytes_new("0123456789012345678901234567890", 31);
		g_autoptr(GBytes) msg2 = NULL;
		g_autoptr(GBytes) sig2 =
		    fst_device_sign_challenge(f->device, 0, short_nonce, &msg2, NULL, &error);
		g_assert_error(error, FST_ERROR, FST_ERROR_INTERNAL);
		g_assert_null(sig2);
	}
}

static FstSecret *
pkcs8_of(EVP_PKEY *key)
{
	g_autoptr(PKCS8_PRIV_KEY_INFO) p8 = EVP_PKEY2PKCS8(key);
	unsigned char *der = NULL;
	int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	FstSecret *secret;
	g_assert_cmpint(len, >, 0);
	secret = fst_secret_new(der, (gsize)len);
	OPENSSL_clear_free(der, (size_t)len);
	return secret;
}

/* PUT_KEY: a station-made RSA key (three chunks) is installed and then signs;
 * a key of another type than announced is refused with BAD_KEY */
static void
test_put_key(Fixture *f, gconstpointer user_data)
{
	FstDevIdentity *ident = fst_devsim_hal_get_identity(f->hal);
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) rsa = EVP_RSA_gen(2048);
	g_autoptr(EVP_PKEY) ec = EVP_EC_gen("P-256");
	g_autoptr(FstSecret) rsa_der = pkcs8_of(rsa);
	g_autoptr(FstSecret) ec_der = pkcs8_of(ec);
	g_autoptr(GBytes) nonce = make_nonce(7);
	g_autoptr(GBytes) msg = NULL;
	g_autoptr(GBytes) sig = NULL;

	/* without the capability the station does not even ask */
	g_assert_false(
	    fst_device_put_key(f->device, 0, FST_KEY_TYPE_EC_P256, ec_der, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_clear_error(&error);

	/* a key-injection device (set before it is identified again) */
	ident->caps |= FST_FSP_CAP_PUT_KEY;
	ident->key_types |= FST_KEY_TYPE_RSA_2048;
	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(fst_device_get_info(f->device)->can_put_key);
	g_assert_cmpuint(fst_secret_get_len(rsa_der), >, 2 * (FST_DEV_MAX_PAYLOAD - 12));
	g_assert_true(
	    fst_device_put_key(f->device, 0, FST_KEY_TYPE_RSA_2048, rsa_der, NULL, &error));
	g_assert_no_error(error);
	sig = fst_device_sign_challenge(f->device, 0, nonce, &msg, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(sig), ==, 256);
	check_signature(rsa, msg, sig);

	/* an EC key announced as P-384 */
	g_assert_false(
	    fst_device_put_key(f->device, 0, FST_KEY_TYPE_EC_P384, ec_der, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "PUT_KEY"));
	g_clear_error(&error);

	/* the refused key did not replace the installed one */
	g_clear_pointer(&sig, g_bytes_unref);
	g_clear_pointer(&msg, g_bytes_unref);
	sig = fst_device_sign_challenge(f->device, 0, nonce, &msg, NULL, &error);
	g_assert_no_error(error);
	check_signature(rsa, msg, sig);
}

/* LOCK: writes, erases and key generation answer LOCKED; reads still work;
 * HELLO reports the state; locking again is fine */
static void
test_lock(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = g_bytes_new_static("certificate bytes", 17);
	g_autoptr(GBytes) other = g_bytes_new_static("other bytes", 11);
	g_autoptr(GBytes) back = NULL;
	g_autoptr(GBytes) csr = NULL;

	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_DEVICE_CERT, data, NULL, &error));
	g_assert_no_error(error);
	g_assert_false(fst_device_get_info(f->device)->locked);
	g_assert_true(fst_device_lock(f->device, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(fst_devsim_hal_is_locked(f->hal));
	g_assert_true(fst_device_lock(f->device, NULL, &error));
	g_assert_no_error(error);

	g_assert_false(
	    fst_device_write_object(f->device, 0, FST_OBJECT_DEVICE_CERT, other, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_PERMISSION_DENIED);
	g_assert_nonnull(strstr(error->message, "locked"));
	g_clear_error(&error);
	g_assert_false(
	    fst_fsp_device_erase(FST_FSP_DEVICE(f->device), FST_OBJECT_DEVICE_CERT, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_PERMISSION_DENIED);
	g_clear_error(&error);
	csr = fst_device_generate_csr(f->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_PERMISSION_DENIED);
	g_assert_null(csr);
	g_clear_error(&error);

	back = fst_device_read_object(f->device, 0, FST_OBJECT_DEVICE_CERT, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(back, data));
	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(fst_device_get_info(f->device)->locked);
	g_assert_cmpuint(fst_devsim_hal_get_commit_count(f->hal), ==, 1);
}

/* one LIST serves the read-back of several objects, and any request that
 * can change storage makes the next read ask again */
static void
test_list_reused(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) cert = g_bytes_new_static("the certificate", 15);
	g_autoptr(GBytes) chain = g_bytes_new_static("the chain", 9);
	g_autoptr(GBytes) back1 = NULL;
	g_autoptr(GBytes) back2 = NULL;
	g_autoptr(GBytes) back3 = NULL;
	g_autoptr(GBytes) back4 = NULL;
	guint32 n;

	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_DEVICE_CERT, cert, NULL, &error));
	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_CA_CHAIN, chain, NULL, &error));
	g_assert_no_error(error);
	n = f->ctx->n_commands;
	back1 = fst_device_read_object(f->device, 0, FST_OBJECT_DEVICE_CERT, NULL, &error);
	back2 = fst_device_read_object(f->device, 0, FST_OBJECT_CA_CHAIN, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(back1, cert));
	g_assert_true(g_bytes_equal(back2, chain));
	/* LIST, READ, READ */
	g_assert_cmpuint(f->ctx->n_commands - n, ==, 3);

	/* after a write, the length and hash come fresh from the device */
	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_CA_CHAIN, cert, NULL, &error));
	g_assert_no_error(error);
	n = f->ctx->n_commands;
	back3 = fst_device_read_object(f->device, 0, FST_OBJECT_CA_CHAIN, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(back3, cert));
	g_assert_cmpuint(f->ctx->n_commands - n, ==, 2);
	g_assert_true(
	    fst_fsp_device_erase(FST_FSP_DEVICE(f->device), FST_OBJECT_CA_CHAIN, NULL, &error));
	back4 = fst_device_read_object(f->device, 0, FST_OBJECT_CA_CHAIN, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_null(back4);
}

/* the requests of the last frame of type @cmd the device received */
static GBytes *
last_request(Fixture *f, guint8 cmd)
{
	GBytes *found = NULL;
	g_mutex_lock(&f->wire_lock);
	for (guint i = 0; i < f->requests->len; i++) {
		GBytes *b = g_ptr_array_index(f->requests, i);
		if (((const guint8 *)g_bytes_get_data(b, NULL))[0] == cmd) {
			g_clear_pointer(&found, g_bytes_unref);
			found = g_bytes_ref(b);
		}
	}
	g_mutex_unlock(&f->wire_lock);
	g_assert_nonnull(found);
	return found;
}

/* does the last HELLO answer carry TLV @tag; its u8 value in *value */
static gboolean
hello_has_tag(Fixture *f, guint8 tag, guint8 *value)
{
	g_autoptr(GBytes) resp = NULL;
	FstFspCursor c;
	guint8 t;
	const guint8 *v;
	guint16 vlen;
	gsize len = 0;
	const guint8 *buf;

	g_mutex_lock(&f->wire_lock);
	for (guint i = 0; i < f->responses->len; i++) {
		GBytes *b = g_ptr_array_index(f->responses, i);
		if (((const guint8 *)g_bytes_get_data(b, NULL))[0] ==
		    (FST_FSP_CMD_HELLO | FST_FSP_RESPONSE_BIT)) {
			g_clear_pointer(&resp, g_bytes_unref);
			resp = g_bytes_ref(b);
		}
	}
	g_mutex_unlock(&f->wire_lock);
	g_assert_nonnull(resp);
	buf = g_bytes_get_data(resp, &len);
	/* type byte, status byte, TLVs */
	g_assert_cmpuint(buf[1], ==, FST_FSP_STATUS_OK);
	fst_fsp_reader_init(&c, buf + 2, len - 2);
	while (fst_fsp_tlv_next(&c, &t, &v, &vlen)) {
		if (t == tag) {
			g_assert_cmpuint(vlen, ==, 1);
			*value = v[0];
			return TRUE;
		}
	}
	g_assert_false(c.error);
	return FALSE;
}

/* the public key of a CSR */
static EVP_PKEY *
csr_key(GBytes *csr)
{
	const guint8 *p = g_bytes_get_data(csr, NULL);
	g_autoptr(X509_REQ) req = d2i_X509_REQ(NULL, &p, (long)g_bytes_get_size(csr));
	g_assert_nonnull(req);
	return EVP_PKEY_dup(X509_REQ_get0_pubkey(req));
}

static EVP_PKEY *
spki_key(GBytes *spki)
{
	const guint8 *p = g_bytes_get_data(spki, NULL);
	EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)g_bytes_get_size(spki));
	g_assert_nonnull(key);
	return key;
}

static void
assert_same_key(GBytes *spki, EVP_PKEY *key)
{
	g_autoptr(EVP_PKEY) other = NULL;
	g_assert_nonnull(spki);
	other = spki_key(spki);
	g_assert_cmpint(EVP_PKEY_eq(other, key), ==, 1);
}

/* slot 0 on the wire is FSP 1.2 byte for byte: KEYGEN without form and slot
 * bytes, SIGN_CHALLENGE of the bare nonce, PUT_KEY's key_type word without
 * slot bits, and a one-slot device's HELLO without the slot TLVs */
static void
test_slot0_wire_unchanged(Fixture *f, gconstpointer user_data)
{
	FstDevIdentity *ident = fst_devsim_hal_get_identity(f->hal);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) spki = NULL;
	g_autoptr(GBytes) nonce = make_nonce(0x33);
	g_autoptr(GBytes) msg = NULL;
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(GBytes) req = NULL;
	g_autoptr(EVP_PKEY) ec = EVP_EC_gen("P-256");
	g_autoptr(FstSecret) ec_der = pkcs8_of(ec);
	const guint8 keygen_v10[] = {FST_FSP_CMD_KEYGEN, 0x01, 0x00, 0x00, 0x00};
	const guint8 keygen_pub[] = {FST_FSP_CMD_KEYGEN, 0x02, 0x00, 0x00, 0x00, 0x01};
	guint8 value = 0;

	ident->caps |= FST_FSP_CAP_PUT_KEY;
	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(fst_device_get_info(f->device)->cred_slots, ==, 1);
	g_assert_cmpuint(fst_device_get_info(f->device)->active_slot, ==, 0);
	g_assert_false(hello_has_tag(f, FST_FSP_TAG_CRED_SLOTS, &value));
	g_assert_false(hello_has_tag(f, FST_FSP_TAG_ACTIVE_SLOT, &value));

	csr = fst_device_generate_csr(f->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_no_error(error);
	req = last_request(f, FST_FSP_CMD_KEYGEN);
	g_assert_cmpmem(
	    g_bytes_get_data(req, NULL), g_bytes_get_size(req), keygen_v10, sizeof(keygen_v10));
	g_clear_pointer(&req, g_bytes_unref);
	spki = fst_device_generate_public_key(f->device, 0, FST_KEY_TYPE_EC_P384, NULL, &error);
	g_assert_no_error(error);
	req = last_request(f, FST_FSP_CMD_KEYGEN);
	g_assert_cmpmem(
	    g_bytes_get_data(req, NULL), g_bytes_get_size(req), keygen_pub, sizeof(keygen_pub));
	g_clear_pointer(&req, g_bytes_unref);

	sig = fst_device_sign_challenge(f->device, 0, nonce, &msg, NULL, &error);
	g_assert_no_error(error);
	req = last_request(f, FST_FSP_CMD_SIGN_CHALLENGE);
	g_assert_cmpuint(g_bytes_get_size(req), ==, 1 + FST_FSP_NONCE_SIZE);
	g_assert_cmpmem((const guint8 *)g_bytes_get_data(req, NULL) + 1,
	                FST_FSP_NONCE_SIZE,
	                g_bytes_get_data(nonce, NULL),
	                FST_FSP_NONCE_SIZE);
	g_clear_pointer(&req, g_bytes_unref);

	g_assert_true(fst_device_put_key(f->device, 0, FST_KEY_TYPE_EC_P256, ec_der, NULL, &error));
	g_assert_no_error(error);
	req = last_request(f, FST_FSP_CMD_PUT_KEY);
	g_assert_cmphex(fst_fsp_get_u32((const guint8 *)g_bytes_get_data(req, NULL) + 1),
	                ==,
	                FST_KEY_TYPE_EC_P256);
}

/* a device with one slot: the station refuses slot 1 before sending
 * anything, and the device refuses every slot-1 form on its own */
static void
test_one_slot_refuses_slot_b(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) data = g_bytes_new_static("cert", 4);
	g_autoptr(GBytes) nonce = make_nonce(0x21);
	g_autoptr(GBytes) msg = NULL;
	g_autoptr(GBytes) sig = NULL;
	guint8 keygen[6] = {0x01, 0x00, 0x00, 0x00, FST_FSP_KEYGEN_FORM_CSR, 1};
	guint8 sign[FST_FSP_NONCE_SIZE + 1] = {0};
	guint8 put_key[FST_FSP_PUT_KEY_HDR + 4] = {0};
	guint8 activate[1] = {1};
	guint8 write_b[5 + 4] = {FST_FSP_OBJ_DEVICE_CERT_B};
	guint32 n;

	g_assert_true(fst_device_identify(f->device, NULL, &error));
	n = f->ctx->n_commands;
	csr = fst_device_generate_csr(f->device, 1, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, TEST_UID));
	g_assert_nonnull(strstr(error->message, "no slot 1"));
	g_assert_null(csr);
	g_clear_error(&error);
	g_assert_false(
	    fst_device_write_object(f->device, 1, FST_OBJECT_DEVICE_CERT, data, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_clear_error(&error);
	sig = fst_device_sign_challenge(f->device, 1, nonce, &msg, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_null(sig);
	g_clear_error(&error);
	g_assert_false(fst_device_activate_slot(f->device, 1, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_clear_error(&error);
	g_assert_false(fst_device_activate_slot(f->device, 0, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_SUPPORTED);
	g_assert_nonnull(strstr(error->message, "one credential slot"));
	g_clear_error(&error);
	/* trust roots are shared: only slot 0 addresses them */
	g_assert_false(
	    fst_device_write_object(f->device, 1, FST_OBJECT_TRUST_ROOTS, data, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_INTERNAL);
	g_clear_error(&error);
	/* nothing of it reached the device */
	g_assert_cmpuint(f->ctx->n_commands, ==, n);
	g_assert_cmpuint(fst_devsim_hal_get_keygen_count(f->hal), ==, 0);

	/* the device itself: slot bytes beyond its one slot are unsupported,
	 * objects of slot B do not exist, PUT_KEY's slot bits make it refuse */
	g_assert_cmpuint(raw_transact(f, FST_FSP_CMD_KEYGEN, 1, keygen, sizeof(keygen)),
	                 ==,
	                 FST_FSP_STATUS_UNSUPPORTED);
	sign[FST_FSP_NONCE_SIZE] = 1;
	g_assert_cmpuint(raw_transact(f, FST_FSP_CMD_SIGN_CHALLENGE, 2, sign, sizeof(sign)),
	                 ==,
	                 FST_FSP_STATUS_UNSUPPORTED);
	fst_devsim_hal_get_identity(f->hal)->caps |= FST_FSP_CAP_PUT_KEY;
	fst_fsp_put_u32(put_key, FST_KEY_TYPE_EC_P256 | (1u << FST_FSP_PUT_KEY_SLOT_SHIFT));
	fst_fsp_put_u32(put_key + 8, 4);
	g_assert_cmpuint(raw_transact(f, FST_FSP_CMD_PUT_KEY, 3, put_key, sizeof(put_key)),
	                 ==,
	                 FST_FSP_STATUS_UNSUPPORTED);
	g_assert_cmpuint(raw_transact(f, FST_FSP_CMD_ACTIVATE, 4, activate, sizeof(activate)),
	                 ==,
	                 FST_FSP_STATUS_UNSUPPORTED);
	g_assert_cmpuint(raw_transact(f, FST_FSP_CMD_WRITE, 5, write_b, sizeof(write_b)),
	                 ==,
	                 FST_FSP_STATUS_NOT_FOUND);
	g_assert_cmpuint(fst_devsim_hal_get_keygen_count(f->hal), ==, 0);
	g_assert_null(fst_devsim_hal_get_public_key(f->hal, 0, TRUE));
}

static void
test_ab_identify(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	const FstDeviceInfo *info;
	guint8 value = 0xff;

	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_no_error(error);
	info = fst_device_get_info(f->device);
	g_assert_cmpuint(info->cred_slots, ==, 2);
	g_assert_cmpuint(info->active_slot, ==, 0);
	g_assert_cmpuint(info->capacity[FST_OBJECT_DEVICE_CERT], ==, 2048);
	g_assert_cmpuint(info->capacity[FST_OBJECT_CA_CHAIN], ==, 4096);
	g_assert_true(hello_has_tag(f, FST_FSP_TAG_CRED_SLOTS, &value));
	g_assert_cmpuint(value, ==, 2);
	g_assert_true(hello_has_tag(f, FST_FSP_TAG_ACTIVE_SLOT, &value));
	g_assert_cmpuint(value, ==, 0);
}

/* KEYGEN and SIGN_CHALLENGE on slot 1 leave slot 0's key alone; the COMMIT
 * of 0x04 promotes slot 1's staged key only, that of 0x01 slot 0's only */
static void
test_ab_keys_per_slot(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr_a = NULL;
	g_autoptr(GBytes) csr_b = NULL;
	g_autoptr(GBytes) csr_a2 = NULL;
	g_autoptr(EVP_PKEY) key_a = NULL;
	g_autoptr(EVP_PKEY) key_b = NULL;
	g_autoptr(GBytes) cert_a = g_bytes_new_static("certificate A", 13);
	g_autoptr(GBytes) cert_b = g_bytes_new_static("certificate B!", 14);
	g_autoptr(GBytes) chain_b = g_bytes_new_static("chain B", 7);
	g_autoptr(GBytes) nonce = make_nonce(0x61);
	g_autoptr(GBytes) back = NULL;
	g_autoptr(GBytes) pub = NULL;
	g_autoptr(GBytes) req = NULL;

	/* slot A provisioned */
	csr_a = fst_device_generate_csr(f->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_no_error(error);
	key_a = csr_key(csr_a);
	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_DEVICE_CERT, cert_a, NULL, &error));
	g_assert_no_error(error);
	pub = fst_devsim_hal_get_public_key(f->hal, 0, FALSE);
	assert_same_key(pub, key_a);
	g_clear_pointer(&pub, g_bytes_unref);

	/* a new key for slot B: staged in slot B, slot A untouched */
	csr_b = fst_device_generate_csr(f->device, 1, FST_KEY_TYPE_EC_P384, NULL, &error);
	g_assert_no_error(error);
	check_csr(csr_b, 384);
	key_b = csr_key(csr_b);
	req = last_request(f, FST_FSP_CMD_KEYGEN);
	g_assert_cmpuint(g_bytes_get_size(req), ==, 1 + 4 + 1 + 1);
	g_assert_cmpuint(((const guint8 *)g_bytes_get_data(req, NULL))[6], ==, 1);
	pub = fst_devsim_hal_get_public_key(f->hal, 1, TRUE);
	assert_same_key(pub, key_b);
	g_clear_pointer(&pub, g_bytes_unref);
	g_assert_null(fst_devsim_hal_get_public_key(f->hal, 1, FALSE));
	g_assert_null(fst_devsim_hal_get_public_key(f->hal, 0, TRUE));
	pub = fst_devsim_hal_get_public_key(f->hal, 0, FALSE);
	assert_same_key(pub, key_a);
	g_clear_pointer(&pub, g_bytes_unref);

	/* each slot signs with its own key */
	{
		g_autoptr(GBytes) msg = NULL;
		g_autoptr(GBytes) sig =
		    fst_device_sign_challenge(f->device, 0, nonce, &msg, NULL, &error);
		g_assert_no_error(error);
		check_signature(key_a, msg, sig);
	}
	{
		g_autoptr(GBytes) msg = NULL;
		g_autoptr(GBytes) sig =
		    fst_device_sign_challenge(f->device, 1, nonce, &msg, NULL, &error);
		g_assert_no_error(error);
		check_signature(key_b, msg, sig);
		g_clear_pointer(&req, g_bytes_unref);
		req = last_request(f, FST_FSP_CMD_SIGN_CHALLENGE);
		g_assert_cmpuint(g_bytes_get_size(req), ==, 1 + FST_FSP_NONCE_SIZE + 1);
	}

	/* a commit of slot A's certificate does not take slot B's staged key */
	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_DEVICE_CERT, cert_a, NULL, &error));
	g_assert_no_error(error);
	pub = fst_devsim_hal_get_public_key(f->hal, 0, FALSE);
	assert_same_key(pub, key_a);
	g_clear_pointer(&pub, g_bytes_unref);
	g_assert_nonnull((pub = fst_devsim_hal_get_public_key(f->hal, 1, TRUE)));
	g_clear_pointer(&pub, g_bytes_unref);

	/* slot B's chain, then its certificate: the key moves with the latter */
	g_assert_true(
	    fst_device_write_object(f->device, 1, FST_OBJECT_CA_CHAIN, chain_b, NULL, &error));
	g_assert_no_error(error);
	g_assert_null(fst_devsim_hal_get_public_key(f->hal, 1, FALSE));
	g_assert_true(
	    fst_device_write_object(f->device, 1, FST_OBJECT_DEVICE_CERT, cert_b, NULL, &error));
	g_assert_no_error(error);
	pub = fst_devsim_hal_get_public_key(f->hal, 1, FALSE);
	assert_same_key(pub, key_b);
	g_clear_pointer(&pub, g_bytes_unref);
	g_assert_null(fst_devsim_hal_get_public_key(f->hal, 1, TRUE));
	pub = fst_devsim_hal_get_public_key(f->hal, 0, FALSE);
	assert_same_key(pub, key_a);
	g_clear_pointer(&pub, g_bytes_unref);

	/* the objects landed in 0x04/0x05 and read back per slot */
	back = fst_devsim_hal_get_object(f->hal, FST_FSP_OBJ_DEVICE_CERT_B);
	g_assert_true(g_bytes_equal(back, cert_b));
	g_clear_pointer(&back, g_bytes_unref);
	back = fst_devsim_hal_get_object(f->hal, FST_FSP_OBJ_DEVICE_CERT);
	g_assert_true(g_bytes_equal(back, cert_a));
	g_clear_pointer(&back, g_bytes_unref);
	back = fst_device_read_object(f->device, 1, FST_OBJECT_DEVICE_CERT, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(back, cert_b));
	g_clear_pointer(&back, g_bytes_unref);
	back = fst_device_read_object(f->device, 1, FST_OBJECT_CA_CHAIN, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(back, chain_b));
	g_clear_pointer(&back, g_bytes_unref);
	back = fst_device_read_object(f->device, 0, FST_OBJECT_CA_CHAIN, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);

	/* a new key for slot A again leaves B's committed key alone */
	csr_a2 = fst_device_generate_csr(f->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_no_error(error);
	pub = fst_devsim_hal_get_public_key(f->hal, 1, FALSE);
	assert_same_key(pub, key_b);
}

/* PUT_KEY into slot 1: the slot rides in the high byte of key_type, the key
 * is staged in slot B only */
static void
test_ab_put_key(Fixture *f, gconstpointer user_data)
{
	FstDevIdentity *ident = fst_devsim_hal_get_identity(f->hal);
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) rsa = EVP_RSA_gen(2048);
	g_autoptr(FstSecret) rsa_der = pkcs8_of(rsa);
	g_autoptr(GBytes) nonce = make_nonce(0x71);
	g_autoptr(GBytes) msg = NULL;
	g_autoptr(GBytes) sig = NULL;
	g_autoptr(GBytes) req = NULL;
	g_autoptr(GBytes) pub = NULL;

	ident->caps |= FST_FSP_CAP_PUT_KEY;
	ident->key_types |= FST_KEY_TYPE_RSA_2048;
	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_true(
	    fst_device_put_key(f->device, 1, FST_KEY_TYPE_RSA_2048, rsa_der, NULL, &error));
	g_assert_no_error(error);
	req = last_request(f, FST_FSP_CMD_PUT_KEY);
	g_assert_cmphex(fst_fsp_get_u32((const guint8 *)g_bytes_get_data(req, NULL) + 1),
	                ==,
	                FST_KEY_TYPE_RSA_2048 | (1u << FST_FSP_PUT_KEY_SLOT_SHIFT));
	pub = fst_devsim_hal_get_public_key(f->hal, 1, TRUE);
	assert_same_key(pub, rsa);
	g_assert_null(fst_devsim_hal_get_public_key(f->hal, 0, TRUE));
	g_assert_null(fst_devsim_hal_get_public_key(f->hal, 0, FALSE));
	sig = fst_device_sign_challenge(f->device, 1, nonce, &msg, NULL, &error);
	g_assert_no_error(error);
	check_signature(rsa, msg, sig);
	/* slot A has no key at all */
	g_clear_pointer(&sig, g_bytes_unref);
	g_clear_pointer(&msg, g_bytes_unref);
	sig = fst_device_sign_challenge(f->device, 0, nonce, &msg, NULL, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_null(sig);
}

/* ACTIVATE refuses a slot without certificate or key, switches to a proven
 * one, is reported by HELLO and survives a restart of the device */
static void
test_ab_activate(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) cert_b = g_bytes_new_static("certificate B", 13);
	g_autoptr(FstDevsimHal) hal2 = NULL;
	g_autofree gchar *storage = g_build_filename(f->tmpdir, "device.ini", NULL);
	FstDevsimConfig config = {.uid = TEST_UID,
	                          .key_types = FST_KEY_TYPE_EC_P256,
	                          .capacity_cert = 2048,
	                          .capacity_chain = 4096,
	                          .capacity_roots = 1000,
	                          .storage_path = storage,
	                          .cred_slots = 2};
	FstDevsimConfig config1 = config;
	guint8 value = 0;

	/* nothing in slot B */
	g_assert_false(fst_device_activate_slot(f->device, 1, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "ACTIVATE"));
	g_assert_nonnull(strstr(error->message, "slot B"));
	g_clear_error(&error);
	/* a key but no certificate */
	csr = fst_device_generate_csr(f->device, 1, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_no_error(error);
	g_assert_false(fst_device_activate_slot(f->device, 1, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_cmpuint(fst_devsim_hal_get_active_slot(f->hal), ==, 0);
	/* a certificate but only a staged key is a slot not yet complete: the
	 * commit moved the key, so activation now works */
	g_assert_true(
	    fst_device_write_object(f->device, 1, FST_OBJECT_DEVICE_CERT, cert_b, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(fst_device_activate_slot(f->device, 1, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(fst_device_get_info(f->device)->active_slot, ==, 1);
	g_assert_cmpuint(fst_devsim_hal_get_active_slot(f->hal), ==, 1);
	/* again is fine (a lost answer is retransmitted) */
	g_assert_true(fst_device_activate_slot(f->device, 1, NULL, &error));
	g_assert_no_error(error);
	/* slot A has no certificate: switching back is refused, B stays */
	g_assert_false(fst_device_activate_slot(f->device, 0, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_cmpuint(fst_devsim_hal_get_active_slot(f->hal), ==, 1);
	/* HELLO reports it */
	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_cmpuint(fst_device_get_info(f->device)->active_slot, ==, 1);
	g_assert_true(hello_has_tag(f, FST_FSP_TAG_ACTIVE_SLOT, &value));
	g_assert_cmpuint(value, ==, 1);

	/* a restart: the storage file keeps the active slot and both keys */
	hal2 = fst_devsim_hal_new(&config, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(fst_devsim_hal_get_active_slot(hal2), ==, 1);
	g_assert_cmpuint(fst_devsim_hal_get_key_type(hal2, 1), ==, FST_KEY_TYPE_EC_P256);
	g_clear_pointer(&hal2, fst_devsim_hal_free);
	/* the same file on a device model with one slot is refused, not cut */
	config1.cred_slots = 1;
	hal2 = fst_devsim_hal_new(&config1, &error);
	g_assert_error(error, FST_ERROR, FST_ERROR_INVALID_DATA);
	g_assert_nonnull(strstr(error->message, "cred-slots 2"));
	g_assert_null(hal2);
	g_clear_error(&error);

	/* a locked device does not switch */
	g_assert_true(fst_device_lock(f->device, NULL, &error));
	g_assert_false(fst_device_activate_slot(f->device, 1, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_PERMISSION_DENIED);
}

/* a slot B write cut short (a new session, as after an unplug) leaves
 * slot A, its key and the active slot as they were */
static void
test_ab_interrupted_write(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr_a = NULL;
	g_autoptr(GBytes) csr_b = NULL;
	g_autoptr(EVP_PKEY) key_a = NULL;
	g_autoptr(GBytes) cert_a = make_data(900, 21);
	g_autoptr(GBytes) back = NULL;
	g_autoptr(GBytes) pub = NULL;
	guint8 req[5 + 100];
	guint8 commit[1 + 4 + FST_FSP_SHA256_SIZE] = {0};

	csr_a = fst_device_generate_csr(f->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_no_error(error);
	key_a = csr_key(csr_a);
	g_assert_true(
	    fst_device_write_object(f->device, 0, FST_OBJECT_DEVICE_CERT, cert_a, NULL, &error));
	g_assert_true(fst_device_activate_slot(f->device, 0, NULL, &error));
	g_assert_no_error(error);

	/* rotation starts: a key for B, then half of B's certificate */
	csr_b = fst_device_generate_csr(f->device, 1, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_no_error(error);
	req[0] = FST_FSP_OBJ_DEVICE_CERT_B;
	fst_fsp_put_u32(req + 1, 0);
	memset(req + 5, 0x42, 100);
	g_assert_cmpuint(
	    raw_transact(f, FST_FSP_CMD_WRITE, 1, req, sizeof(req)), ==, FST_FSP_STATUS_OK);
	/* the station comes back with a new session */
	g_assert_true(fst_device_identify(f->device, NULL, &error));
	g_assert_no_error(error);
	commit[0] = FST_FSP_OBJ_DEVICE_CERT_B;
	fst_fsp_put_u32(commit + 1, 100);
	g_assert_cmpuint(raw_transact(f, FST_FSP_CMD_COMMIT, 2, commit, sizeof(commit)),
	                 ==,
	                 FST_FSP_STATUS_BAD_ARGUMENTS);

	g_assert_null(fst_devsim_hal_get_object(f->hal, FST_FSP_OBJ_DEVICE_CERT_B));
	g_assert_null(fst_devsim_hal_get_public_key(f->hal, 1, FALSE));
	back = fst_devsim_hal_get_object(f->hal, FST_FSP_OBJ_DEVICE_CERT);
	g_assert_true(g_bytes_equal(back, cert_a));
	pub = fst_devsim_hal_get_public_key(f->hal, 0, FALSE);
	assert_same_key(pub, key_a);
	g_assert_cmpuint(fst_devsim_hal_get_active_slot(f->hal), ==, 0);
	g_assert_cmpuint(fst_device_get_info(f->device)->active_slot, ==, 0);
	g_assert_false(fst_device_activate_slot(f->device, 1, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_NOT_FOUND);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/fst/fsp/device/identify", test_identify);
	ADD("/fst/fsp/device/generate-csr", test_generate_csr);
	ADD("/fst/fsp/device/generate-public-key", test_generate_public_key);
	g_test_add("/fst/fsp/device/pubkey-only-device",
	           Fixture,
	           GINT_TO_POINTER(MODE_PUBKEY_ONLY),
	           fixture_setup,
	           test_pubkey_only_device,
	           fixture_teardown);
	ADD("/fst/fsp/device/write-read", test_write_read);
	ADD("/fst/fsp/device/read-absent-not-found", test_read_absent);
	ADD("/fst/fsp/device/storage-full", test_storage_full);
	ADD("/fst/fsp/device/write-capacity-bound", test_write_capacity_bound);
	ADD("/fst/fsp/device/negotiated-payload-bound", test_negotiated_payload_bound);
	ADD("/fst/fsp/device/nak", test_nak);
	ADD("/fst/fsp/device/bad-hash-keeps-old", test_bad_hash_keeps_old);
	ADD("/fst/fsp/device/retransmit-not-repeated", test_retransmit_not_repeated);
	ADD("/fst/fsp/device/timeout", test_timeout);
	ADD("/fst/fsp/device/sign-challenge", test_sign_challenge);
	ADD("/fst/fsp/device/put-key", test_put_key);
	ADD("/fst/fsp/device/lock", test_lock);
	ADD("/fst/fsp/device/list-reused-for-read-back", test_list_reused);
	ADD("/fst/fsp/device/digest", test_digest);
	g_test_add("/fst/fsp/device/digest-unsupported-not-sent",
	           Fixture,
	           GINT_TO_POINTER(MODE_NO_DIGEST),
	           fixture_setup,
	           test_digest_unsupported,
	           fixture_teardown);
	g_test_add("/fst/fsp/device/newer-version-negotiated-down",
	           Fixture,
	           GINT_TO_POINTER(MODE_NEWER),
	           fixture_setup,
	           test_newer_version_negotiated_down,
	           fixture_teardown);
	g_test_add_func("/fst/fsp/device/hello-rejects-bad-fields", test_hello_parser);
	ADD("/fst/fsp/device/slot0-wire-unchanged", test_slot0_wire_unchanged);
	ADD("/fst/fsp/device/one-slot-refuses-slot-b", test_one_slot_refuses_slot_b);
#define ADD_AB(path, fn)                                                                           \
	g_test_add(path, Fixture, GINT_TO_POINTER(MODE_AB), fixture_setup, fn, fixture_teardown)
	ADD_AB("/fst/fsp/device/ab/identify", test_ab_identify);
	ADD_AB("/fst/fsp/device/ab/keys-per-slot", test_ab_keys_per_slot);
	ADD_AB("/fst/fsp/device/ab/put-key-slot-b", test_ab_put_key);
	ADD_AB("/fst/fsp/device/ab/activate", test_ab_activate);
	ADD_AB("/fst/fsp/device/ab/interrupted-slot-b-write", test_ab_interrupted_write);
	ADD_AB("/fst/fsp/device/ab/digest-reads-storage", test_ab_digest_reads_storage);
	return g_test_run();
}
