/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the seed corpora of the FSP fuzzers from a real session: the device
 * SDK with the simulator's HAL answers real requests; requests go to the SDK
 * corpus, responses to the station corpus. The station driver's own sessions
 * (fst-fsp-device.c over an in-process transport to the SDK) give the driver
 * corpus: every answer as a record of fst-fuzz-fsp-driver.h, plus hostile
 * variants built from them. Not built by default:
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
#include "fst-fuzz-fsp-driver.h"

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

/* the station driver's side of an in-process link to the SDK: a write runs
 * the SDK on the request, a read takes what it answered and records every
 * answer frame as a driver fuzzer record */
#define FST_TYPE_CORPUS_TRANSPORT (fst_corpus_transport_get_type())
G_DECLARE_FINAL_TYPE(FstCorpusTransport, fst_corpus_transport, FST, CORPUS_TRANSPORT, FstTransport)

struct _FstCorpusTransport {
	FstTransport parent_instance;
	GPtrArray *records; /* (element-type GByteArray) */
	FstFspDecoder dec;
	guint8 dec_buf[FST_FSP_ENCODED_MAX(FST_FSP_MAX_PAYLOAD_LIMIT)];
};

G_DEFINE_TYPE(FstCorpusTransport, fst_corpus_transport, FST_TYPE_TRANSPORT)

static GByteArray *
answer_record(guint8 tag, guint8 status, const guint8 *body, gsize len)
{
	GByteArray *rec = g_byte_array_new();
	guint8 hdr[4] = {tag, status, (guint8)(len & 0xff), (guint8)(len >> 8)};
	g_byte_array_append(rec, hdr, sizeof(hdr));
	if (len > 0)
		g_byte_array_append(rec, body, (guint)len);
	return rec;
}

static GByteArray *
byte_record(guint8 tag)
{
	GByteArray *rec = g_byte_array_new();
	g_byte_array_append(rec, &tag, 1);
	return rec;
}

static gssize
fst_corpus_transport_read(FstTransport *transport,
                          guint8 *buf,
                          gsize len,
                          guint timeout_ms,
                          GCancellable *cancellable,
                          GError **error)
{
	FstCorpusTransport *self = FST_CORPUS_TRANSPORT(transport);
	ssize_t got = recv(station_side, buf, len, MSG_DONTWAIT);

	(void)timeout_ms;
	(void)cancellable;
	if (got <= 0) {
		g_ptr_array_add(self->records, byte_record(FST_FUZZ_REC_TIMEOUT));
		g_set_error_literal(
		    error, FST_ERROR, FST_ERROR_TIMED_OUT, "the SDK did not answer");
		return -1;
	}
	for (ssize_t i = 0; i < got; i++) {
		FstFspPacket pkt;
		if (fst_fsp_decoder_push(&self->dec, buf[i], &pkt) == FST_FSP_DEC_FRAME)
			g_ptr_array_add(self->records,
			                answer_record(FST_FUZZ_REC_ANSWER,
			                              pkt.payload[0],
			                              pkt.payload + 1,
			                              pkt.len - 1u));
	}
	return got;
}

static gboolean
fst_corpus_transport_write(FstTransport *transport,
                           const guint8 *buf,
                           gsize len,
                           guint timeout_ms,
                           GCancellable *cancellable,
                           GError **error)
{
	(void)transport;
	(void)timeout_ms;
	(void)cancellable;
	(void)error;
	fst_dev_rx(&ctx, buf, len);
	return TRUE;
}

static gboolean
fst_corpus_transport_open(FstTransport *transport, GError **error)
{
	(void)transport;
	(void)error;
	return TRUE;
}

static void
fst_corpus_transport_finalize(GObject *object)
{
	FstCorpusTransport *self = FST_CORPUS_TRANSPORT(object);
	g_ptr_array_unref(self->records);
	G_OBJECT_CLASS(fst_corpus_transport_parent_class)->finalize(object);
}

static void
fst_corpus_transport_init(FstCorpusTransport *self)
{
	self->records = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
	fst_fsp_decoder_init(
	    &self->dec, self->dec_buf, sizeof(self->dec_buf), FST_FSP_MAX_PAYLOAD_LIMIT);
}

static void
fst_corpus_transport_class_init(FstCorpusTransportClass *klass)
{
	FstTransportClass *transport_class = FST_TRANSPORT_CLASS(klass);
	G_OBJECT_CLASS(klass)->finalize = fst_corpus_transport_finalize;
	transport_class->open = fst_corpus_transport_open;
	transport_class->read = fst_corpus_transport_read;
	transport_class->write = fst_corpus_transport_write;
}

/* a driver fuzzer input: header, calls, records */
static GByteArray *
driver_input(guint8 flags, const guint8 *calls, guint n_calls, GPtrArray *records)
{
	GByteArray *in = g_byte_array_new();
	guint8 hdr = FST_FUZZ_DRIVER_HEADER(n_calls, 3u, flags);
	g_assert(n_calls >= 1 && n_calls <= FST_FUZZ_DRIVER_MAX_CALLS);
	g_byte_array_append(in, &hdr, 1);
	g_byte_array_append(in, calls, n_calls);
	for (guint i = 0; i < records->len; i++) {
		GByteArray *rec = g_ptr_array_index(records, i);
		g_byte_array_append(in, rec->data, rec->len);
	}
	return in;
}

/* runs @calls with the station driver against a simulated device; returns
 * the device's answers as records */
static GPtrArray *
driver_session(const gchar *dir,
               const gchar *name,
               const FstDevsimConfig *config,
               const guint8 *calls,
               guint n_calls)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstDevsimHal) hal = fst_devsim_hal_new(config, &error);
	g_autoptr(FstCorpusTransport) transport = g_object_new(FST_TYPE_CORPUS_TRANSPORT, NULL);
	g_autoptr(FstDevice) device = NULL;
	g_autoptr(GByteArray) in = NULL;

	g_assert_no_error(error);
	fst_devsim_hal_set_fd(hal, dev_side);
	if (fst_dev_init(&ctx, fst_devsim_hal_get_hal(hal), fst_devsim_hal_get_identity(hal)) != 0)
		exit(1);
	fst_transport_set_name(FST_TRANSPORT(transport), name);
	g_assert(fst_transport_open(FST_TRANSPORT(transport), NULL));
	device = fst_fsp_device_new(FST_TRANSPORT(transport));
	for (guint i = 0; i < n_calls; i++) {
		g_autoptr(GError) error_local = NULL;
		gboolean ok = fst_fuzz_driver_call(device, calls[i], &error_local);
		g_print("%s call %u (0x%02x): %s\n",
		        name,
		        i,
		        calls[i],
		        ok ? "ok" : error_local->message);
	}
	in = driver_input(0, calls, n_calls, transport->records);
	save(dir, name, in->data, in->len);
	return g_ptr_array_ref(transport->records);
}

static GByteArray *
raw_record(const guint8 *raw, guint8 len)
{
	GByteArray *rec = byte_record(FST_FUZZ_REC_RAW);
	g_byte_array_append(rec, &len, 1);
	g_byte_array_append(rec, raw, len);
	return rec;
}

/* a copy of @records with @rec inserted at @pos (which it owns) */
static GPtrArray *
records_insert(GPtrArray *records, guint pos, GByteArray *rec)
{
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
	for (guint i = 0; i < records->len; i++) {
		if (i == pos)
			g_ptr_array_add(out, rec);
		g_ptr_array_add(out, g_byte_array_ref(g_ptr_array_index(records, i)));
	}
	if (pos >= records->len)
		g_ptr_array_add(out, rec);
	return out;
}

/* the driver corpus: real sessions, one-slot and A/B, key injection and
 * public-key export; then hostile variants of the first */
static void
driver_corpus(const gchar *dir, const FstDevsimConfig *base)
{
	const guint8 full[] = {
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_IDENTIFY, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_CSR, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_SIGN, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_WRITE, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_WRITE, 0, 4),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_WRITE, 0, 5),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_READ, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_READ, 0, 1),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_LIST, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_LOCK, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_WRITE, 0, 0),
	};
	const guint8 ab[] = {
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_IDENTIFY, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_ACTIVATE, 1, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_CSR, 1, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_SIGN, 1, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_WRITE, 1, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_WRITE, 1, 4),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_READ, 1, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_READ, 1, 1),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_ACTIVATE, 1, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_LIST, 0, 0),
	};
	const guint8 put_key[] = {
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_PUT_KEY, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_SIGN, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_WRITE, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_ERASE, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_READ, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_PUT_KEY, 0, 3),
	};
	const guint8 pubkey[] = {
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_PUBKEY, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_CSR, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_SIGN, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_WRITE, 0, 6),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_WRITE, 0, 0),
	};
	/* DIGEST instead of read-back, and of an absent object */
	const guint8 digest[] = {
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_IDENTIFY, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_WRITE, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_DIGEST, 0, 0),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_WRITE, 0, 4),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_DIGEST, 0, 1),
	    FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_DIGEST, 0, 2),
	};
	FstDevsimConfig config_ab = *base;
	FstDevsimConfig config_key = *base;
	FstDevsimConfig config_pub = *base;
	g_autoptr(GPtrArray) records = NULL;

	config_ab.uid = "CORPUS-AB-0002";
	config_ab.cred_slots = 2;
	config_key.uid = "CORPUS-KEY-0003";
	config_key.no_csr = TRUE;
	config_pub.uid = "CORPUS-PUB-0004";
	config_pub.pubkey_only = TRUE;
	g_ptr_array_unref(driver_session(dir, "session-ab", &config_ab, ab, sizeof(ab)));
	g_ptr_array_unref(
	    driver_session(dir, "session-put-key", &config_key, put_key, sizeof(put_key)));
	g_ptr_array_unref(
	    driver_session(dir, "session-pubkey", &config_pub, pubkey, sizeof(pubkey)));
	g_ptr_array_unref(driver_session(dir, "session-digest", base, digest, sizeof(digest)));
	records = driver_session(dir, "session", base, full, sizeof(full));

	{
		/* garbage and a broken frame before every answer: the decoder
		 * resyncs at the next delimiter */
		const guint8 junk[] = {0x13, 0x37, 0x00, 0xff, 0xfe, 0x02, 0x01, 0x00, 0x05, 0x01};
		g_autoptr(GPtrArray) r =
		    g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
		g_autoptr(GByteArray) in = NULL;
		for (guint i = 0; i < records->len; i++) {
			GByteArray *rec = g_ptr_array_index(records, i);
			g_ptr_array_add(r, raw_record(junk, sizeof(junk)));
			/* the answer then needs its leading delimiter */
			rec = g_byte_array_ref(rec);
			rec->data[0] |= FST_FUZZ_REC_DELIMITER;
			g_ptr_array_add(r, rec);
		}
		in = driver_input(0, full, sizeof(full), r);
		save(dir, "hostile-garbage", in->data, in->len);
		for (guint i = 0; i < records->len; i++)
			((GByteArray *)g_ptr_array_index(records, i))->data[0] &=
			    ~FST_FUZZ_REC_DELIMITER;
	}
	{
		/* before the HELLO answer: a corrupt one, a timeout, a stale one,
		 * one for another command; the real one byte by byte */
		GByteArray *hello = g_ptr_array_index(records, 0);
		g_autoptr(GPtrArray) r =
		    g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
		g_autoptr(GByteArray) in = NULL;
		GByteArray *rec;
		for (guint i = 0; i < 4; i++) {
			static const guint8 tags[] = {FST_FUZZ_REC_CORRUPT,
			                              FST_FUZZ_REC_TIMEOUT,
			                              FST_FUZZ_REC_STALE_SEQ,
			                              FST_FUZZ_REC_WRONG_TYPE};
			rec = g_byte_array_new();
			g_byte_array_append(rec, hello->data, hello->len);
			rec->data[0] = tags[i];
			g_ptr_array_add(
			    r, tags[i] == FST_FUZZ_REC_TIMEOUT ? byte_record(tags[i]) : rec);
			if (tags[i] == FST_FUZZ_REC_TIMEOUT)
				g_byte_array_unref(rec);
		}
		for (guint i = 0; i < records->len; i++)
			g_ptr_array_add(r, g_byte_array_ref(g_ptr_array_index(records, i)));
		rec = g_byte_array_new();
		g_byte_array_append(rec, hello->data, hello->len);
		rec->data[0] = FST_FUZZ_REC_BYTEWISE | FST_FUZZ_REC_DELIMITER;
		g_ptr_array_insert(r, 4, rec);
		g_ptr_array_remove_index(r, 5);
		in = driver_input(0, full, sizeof(full), r);
		save(dir, "hostile-retransmit", in->data, in->len);
	}
	{
		/* KEYGEN announces 4 GiB of CSR */
		const guint8 huge[4] = {0xff, 0xff, 0xff, 0xff};
		g_autoptr(GPtrArray) r = records_insert(records, 1, answer_record(0, 0, huge, 4));
		g_autoptr(GByteArray) in = driver_input(0, full, sizeof(full), r);
		save(dir, "hostile-csr-length", in->data, in->len);
	}
	{
		/* a READ answer whose total disagrees with KEYGEN's */
		guint8 body[4 + 8] = {0};
		g_autoptr(GPtrArray) r = NULL;
		g_autoptr(GByteArray) in = NULL;
		fst_fsp_put_u32(body, 0x7fffffff);
		r = records_insert(records, 2, answer_record(0, 0, body, sizeof(body)));
		in = driver_input(0, full, sizeof(full), r);
		save(dir, "hostile-read-total", in->data, in->len);
	}
	{
		/* LIST: an object that claims more than its capacity; then
		 * READ of one larger than the station reads */
		guint8 list[1 + 2 * FST_FSP_LIST_ENTRY_SIZE] = {2};
		guint8 *e = list + 1;
		g_autoptr(GByteArray) in = NULL;
		g_autoptr(GPtrArray) r =
		    g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
		const guint8 calls[] = {FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_IDENTIFY, 0, 0),
		                        FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_LIST, 0, 0),
		                        FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_READ, 0, 0)};
		e[0] = FST_FSP_OBJ_DEVICE_CERT;
		e[1] = FST_FSP_OBJ_FLAG_PRESENT;
		fst_fsp_put_u32(e + 2, FST_FSP_DEVICE_OBJECT_MAX + 1);
		fst_fsp_put_u32(e + 6, 0xffffffff);
		e += FST_FSP_LIST_ENTRY_SIZE;
		e[0] = FST_FSP_OBJ_CA_CHAIN;
		e[1] = FST_FSP_OBJ_FLAG_PRESENT;
		fst_fsp_put_u32(e + 2, 100);
		fst_fsp_put_u32(e + 6, 99);
		g_ptr_array_add(r, g_byte_array_ref(g_ptr_array_index(records, 0)));
		g_ptr_array_add(r, answer_record(0, 0, list, sizeof(list)));
		list[0] = 1;
		g_ptr_array_add(r, answer_record(0, 0, list, 1 + FST_FSP_LIST_ENTRY_SIZE));
		in = driver_input(0, calls, G_N_ELEMENTS(calls), r);
		save(dir, "hostile-list", in->data, in->len);
	}
	{
		/* a device that announces 64 bytes, then does not answer a second
		 * HELLO: the WRITE after it must still keep to 64 bytes */
		GByteArray *hello = g_byte_array_new();
		const guint8 calls[] = {FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_IDENTIFY, 0, 0),
		                        FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_IDENTIFY, 0, 0),
		                        FST_FUZZ_DRIVER_CALL(FST_FUZZ_DRIVER_OP_WRITE, 0, 0)};
		g_autoptr(GPtrArray) r =
		    g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
		g_autoptr(GByteArray) in = NULL;
		GByteArray *orig = g_ptr_array_index(records, 0);
		g_byte_array_append(hello, orig->data, orig->len);
		for (guint i = 4; i + 3 <= hello->len;) {
			guint16 l = fst_fsp_get_u16(hello->data + i + 1);
			if (hello->data[i] == FST_FSP_TAG_MAX_PAYLOAD && l == 2)
				fst_fsp_put_u16(hello->data + i + 3, FST_FSP_MIN_PAYLOAD);
			i += 3u + l;
		}
		g_ptr_array_add(r, hello);
		for (guint i = 0; i < 4; i++)
			g_ptr_array_add(r, byte_record(FST_FUZZ_REC_TIMEOUT));
		in = driver_input(0, calls, G_N_ELEMENTS(calls), r);
		save(dir, "hostile-reidentify", in->data, in->len);
	}
	{
		/* an oversize answer, a write that fails, then the link is gone
		 * halfway through the session */
		guint8 big[FST_FSP_MAX_PAYLOAD_LIMIT + 8] = {0};
		g_autoptr(GPtrArray) r =
		    records_insert(records, 0, answer_record(0, 0, big, sizeof(big)));
		g_autoptr(GByteArray) in = NULL;
		g_ptr_array_insert(r, 2, byte_record(FST_FUZZ_REC_WRITE_FAILS));
		g_ptr_array_set_size(r, 8);
		in = driver_input(
		    FST_FUZZ_DRIVER_END_DISCONNECT | FST_FUZZ_DRIVER_BAUD, full, sizeof(full), r);
		save(dir, "hostile-disconnect", in->data, in->len);
	}
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
	g_autofree gchar *vdir = NULL;
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
	vdir = g_build_filename(argv[1], "corpus-driver", NULL);
	g_mkdir_with_parents(ddir, 0755);
	g_mkdir_with_parents(vdir, 0755);
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
		fst_fsp_put_u32(put_key_b,
		                FST_KEY_TYPE_EC_P256 | (1u << FST_FSP_PUT_KEY_SLOT_SHIFT));
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
		g_byte_array_unref(
		    request(FST_FSP_CMD_WRITE, write_b, sizeof(write_b), ab_requests));
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
	driver_corpus(vdir, &config);
	close(sv[0]);
	close(sv[1]);
	g_byte_array_unref(all_requests);
	g_byte_array_unref(all_responses);
	return 0;
}
