/*
 * Writes the seed corpora of the FSP fuzzers from a real session: the device
 * SDK with the simulator's HAL answers real requests; requests go to the SDK
 * corpus, responses to the station corpus. Not built by default:
 *   cmake --build BUILD --target fst-fuzz-fsp-corpus
 *   BUILD/fst-fuzz-fsp-corpus tests/data/fsp
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fst-dev.h"
#include "fst-device.h"
#include "fst-devsim-hal.h"

static int dev_side;
static int station_side;
static FstDevCtx ctx;
static guint16 seq = 0x100;
static GByteArray *all_requests;
static GByteArray *all_responses;

static void
save(const gchar *dir, const gchar *name, const guint8 *buf, gsize len)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	g_autoptr(GError) error = NULL;
	if (!g_file_set_contents(path, (const gchar *)buf, (gssize)len, &error)) {
		g_printerr("%s\n", error->message);
		exit(1);
	}
}

/* sends one request; returns the response frame bytes */
static GByteArray *
request(guint8 type, const guint8 *payload, guint16 len, GByteArray *req_out)
{
	FstFspPacket pkt = {.type = type, .seq = seq++, .len = len, .payload = payload};
	guint8 frame[FST_FSP_ENCODED_MAX(FST_DEV_MAX_PAYLOAD) + 1];
	gsize n;
	GByteArray *resp = g_byte_array_new();
	guint8 buf[4096];
	ssize_t got;

	frame[0] = 0;
	n = fst_fsp_packet_encode(&pkt, frame + 1, sizeof(frame) - 1) + 1;
	if (req_out != NULL)
		g_byte_array_append(req_out, frame, (guint)n);
	g_byte_array_append(all_requests, frame, (guint)n);
	fst_dev_rx(&ctx, frame, n);
	while ((got = recv(station_side, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		g_byte_array_append(resp, buf, (guint)got);
	g_byte_array_append(all_responses, resp->data, resp->len);
	return resp;
}

/* a structured record for the SDK fuzzer: type, len u16, payload */
static void
record(GByteArray *out, guint8 type, const guint8 *payload, guint16 len)
{
	guint8 hdr[3] = {type, (guint8)(len & 0xff), (guint8)(len >> 8)};
	g_byte_array_append(out, hdr, 3);
	g_byte_array_append(out, payload, len);
}

int
main(int argc, char **argv)
{
	FstDevsimConfig config = {.uid = "CORPUS-0001",
	                          .model = "devsim-ecc",
	                          .firmware = "1.0.0",
	                          .key_types = FST_KEY_TYPE_EC_P256,
	                          .validation = 7,
	                          .capacity_cert = 2048,
	                          .capacity_chain = 4096,
	                          .capacity_roots = 8192};
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDevsimHal) hal = NULL;
	g_autofree gchar *sdir = NULL;
	g_autofree gchar *ddir = NULL;
	g_autoptr(GByteArray) structured = g_byte_array_new();
	guint8 hello[3] = {1, 0x00, 0x10};
	guint8 keygen[4] = {1, 0, 0, 0};
	guint8 write[5 + 300];
	guint8 commit[5 + 32];
	guint8 readreq[7];
	guint8 erase[1] = {FST_FSP_OBJ_DEVICE_CERT};
	int sv[2];
	struct {
		const gchar *name;
		GByteArray *resp;
	} r[8];

	if (argc != 2) {
		g_printerr("usage: %s OUTDIR\n", argv[0]);
		return 2;
	}
	sdir = g_build_filename(argv[1], "corpus-station", NULL);
	ddir = g_build_filename(argv[1], "corpus-sdk", NULL);
	g_mkdir_with_parents(sdir, 0755);
	g_mkdir_with_parents(ddir, 0755);
	all_requests = g_byte_array_new();
	all_responses = g_byte_array_new();

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 1;
	dev_side = sv[0];
	station_side = sv[1];
	hal = fst_devsim_hal_new(&config, &error);
	g_assert_no_error(error);
	fst_devsim_hal_set_fd(hal, dev_side);
	if (fst_dev_init(&ctx, fst_devsim_hal_get_hal(hal), fst_devsim_hal_get_identity(hal)) != 0)
		return 1;

	for (guint i = 0; i < 300; i++)
		write[5 + i] = (guint8)(i % 7 == 0 ? 0 : i);
	write[0] = FST_FSP_OBJ_DEVICE_CERT;
	fst_fsp_put_u32(write + 1, 0);
	commit[0] = FST_FSP_OBJ_DEVICE_CERT;
	fst_fsp_put_u32(commit + 1, 300);
	SHA256(write + 5, 300, commit + 5);
	readreq[0] = FST_FSP_OBJ_CSR;
	fst_fsp_put_u32(readreq + 1, 0);
	fst_fsp_put_u16(readreq + 5, 200);

	r[0].name = "hello";
	r[0].resp = request(FST_FSP_CMD_HELLO, hello, sizeof(hello), NULL);
	r[1].name = "keygen";
	r[1].resp = request(FST_FSP_CMD_KEYGEN, keygen, sizeof(keygen), NULL);
	r[2].name = "read-csr";
	r[2].resp = request(FST_FSP_CMD_READ, readreq, sizeof(readreq), NULL);
	r[3].name = "write";
	r[3].resp = request(FST_FSP_CMD_WRITE, write, sizeof(write), NULL);
	r[4].name = "commit";
	r[4].resp = request(FST_FSP_CMD_COMMIT, commit, sizeof(commit), NULL);
	r[5].name = "list";
	r[5].resp = request(FST_FSP_CMD_LIST, NULL, 0, NULL);
	r[6].name = "erase";
	r[6].resp = request(FST_FSP_CMD_ERASE, erase, sizeof(erase), NULL);
	r[7].name = "error-unknown";
	r[7].resp = request(0x3f, NULL, 0, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(r); i++) {
		save(sdir, r[i].name, r[i].resp->data, r[i].resp->len);
		g_byte_array_unref(r[i].resp);
	}
	{
		/* garbage, then a response: the decoder must resync */
		g_autoptr(GByteArray) g = g_byte_array_new();
		const guint8 junk[] = {0x13, 0x37, 0x00, 0xff, 0xfe, 0x02, 0x01};
		g_byte_array_append(g, junk, sizeof(junk));
		g_byte_array_append(g, all_responses->data, MIN(all_responses->len, 200u));
		save(sdir, "garbage-then-frames", g->data, g->len);
	}
	save(sdir, "session", all_responses->data, all_responses->len);
	save(ddir, "session", all_requests->data, all_requests->len);

	record(structured, FST_FSP_CMD_HELLO, hello, sizeof(hello));
	record(structured, FST_FSP_CMD_WRITE, write, sizeof(write));
	record(structured, FST_FSP_CMD_COMMIT, commit, sizeof(commit));
	record(structured, FST_FSP_CMD_COMMIT | 0x40, commit, sizeof(commit));
	record(structured, FST_FSP_CMD_LIST, NULL, 0);
	record(structured, FST_FSP_CMD_KEYGEN, keygen, sizeof(keygen));
	record(structured, FST_FSP_CMD_READ, readreq, sizeof(readreq));
	record(structured, FST_FSP_CMD_ERASE, erase, sizeof(erase));
	record(structured, FST_FSP_CMD_LOCK, NULL, 0);
	save(ddir, "structured-session", structured->data, structured->len);
	g_byte_array_set_size(structured, 0);
	record(structured, FST_FSP_CMD_HELLO, hello, 2);
	record(structured, FST_FSP_CMD_WRITE, write, 4);
	record(structured, FST_FSP_CMD_READ, readreq, 3);
	save(ddir, "structured-short", structured->data, structured->len);

	/* a device with A/B credential slots (FSP 1.3): slot bytes, objects
	 * 0x04/0x05 and ACTIVATE */
	{
		FstDevsimConfig config_ab = config;
		g_autoptr(FstDevsimHal) hal_ab = NULL;
		g_autoptr(GByteArray) ab_requests = g_byte_array_new();
		GByteArray *resp;
		guint8 keygen_b[6] = {1, 0, 0, 0, FST_FSP_KEYGEN_FORM_CSR, 1};
		guint8 sign_b[FST_FSP_NONCE_SIZE + 1];
		guint8 write_b[5 + 300];
		guint8 commit_b[5 + 32];
		guint8 activate_b[1] = {1};
		guint8 put_key_b[FST_FSP_PUT_KEY_HDR + 8] = {0};

		config_ab.uid = "CORPUS-AB-0001";
		config_ab.cred_slots = 2;
		config_ab.no_csr = FALSE;
		hal_ab = fst_devsim_hal_new(&config_ab, &error);
		g_assert_no_error(error);
		fst_devsim_hal_set_fd(hal_ab, dev_side);
		if (fst_dev_init(&ctx,
		                 fst_devsim_hal_get_hal(hal_ab),
		                 fst_devsim_hal_get_identity(hal_ab)) != 0)
			return 1;
		memset(sign_b, 0x5c, sizeof(sign_b));
		sign_b[FST_FSP_NONCE_SIZE] = 1;
		memcpy(write_b, write, sizeof(write_b));
		write_b[0] = FST_FSP_OBJ_DEVICE_CERT_B;
		memcpy(commit_b, commit, sizeof(commit_b));
		commit_b[0] = FST_FSP_OBJ_DEVICE_CERT_B;
		fst_fsp_put_u32(put_key_b, FST_KEY_TYPE_EC_P256 | (1u << FST_FSP_PUT_KEY_SLOT_SHIFT));
		fst_fsp_put_u32(put_key_b + 8, 8);

		g_byte_array_set_size(all_responses, 0);
		resp = request(FST_FSP_CMD_HELLO, hello, sizeof(hello), ab_requests);
		save(sdir, "hello-ab", resp->data, resp->len);
		g_byte_array_unref(resp);
		resp = request(FST_FSP_CMD_ACTIVATE, activate_b, sizeof(activate_b), ab_requests);
		save(sdir, "activate-not-found", resp->data, resp->len);
		g_byte_array_unref(resp);
		g_byte_array_unref(
		    request(FST_FSP_CMD_KEYGEN, keygen_b, sizeof(keygen_b), ab_requests));
		g_byte_array_unref(
		    request(FST_FSP_CMD_SIGN_CHALLENGE, sign_b, sizeof(sign_b), ab_requests));
		g_byte_array_unref(request(FST_FSP_CMD_WRITE, write_b, sizeof(write_b), ab_requests));
		g_byte_array_unref(
		    request(FST_FSP_CMD_COMMIT, commit_b, sizeof(commit_b), ab_requests));
		resp = request(FST_FSP_CMD_ACTIVATE, activate_b, sizeof(activate_b), ab_requests);
		save(sdir, "activate", resp->data, resp->len);
		g_byte_array_unref(resp);
		resp = request(FST_FSP_CMD_LIST, NULL, 0, ab_requests);
		save(sdir, "list-ab", resp->data, resp->len);
		g_byte_array_unref(resp);
		save(sdir, "session-ab", all_responses->data, all_responses->len);
		save(ddir, "session-ab", ab_requests->data, ab_requests->len);

		g_byte_array_set_size(structured, 0);
		record(structured, FST_FSP_CMD_HELLO, hello, sizeof(hello));
		record(structured, FST_FSP_CMD_KEYGEN, keygen_b, sizeof(keygen_b));
		record(structured, FST_FSP_CMD_SIGN_CHALLENGE, sign_b, sizeof(sign_b));
		record(structured, FST_FSP_CMD_ACTIVATE, activate_b, sizeof(activate_b));
		record(structured, FST_FSP_CMD_WRITE, write_b, sizeof(write_b));
		record(structured, FST_FSP_CMD_COMMIT, commit_b, sizeof(commit_b));
		record(structured, FST_FSP_CMD_ACTIVATE, activate_b, sizeof(activate_b));
		record(structured, FST_FSP_CMD_ACTIVATE | 0x40, activate_b, sizeof(activate_b));
		record(structured, FST_FSP_CMD_PUT_KEY, put_key_b, sizeof(put_key_b));
		record(structured, FST_FSP_CMD_LIST, NULL, 0);
		save(ddir, "structured-ab", structured->data, structured->len);
	}
	close(sv[0]);
	close(sv[1]);
	g_byte_array_unref(all_requests);
	g_byte_array_unref(all_responses);
	return 0;
}
