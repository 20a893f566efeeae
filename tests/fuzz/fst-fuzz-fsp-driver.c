/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the whole station-side FSP driver (fst-fsp-device.c, through the
 * FstDevice API) against a hostile device: the input chooses the API calls
 * and every byte the device sends (fst-fuzz-fsp-driver.h has the format).
 * The fake transport never sleeps: a timeout is reported at once, so
 * retransmissions cost nothing. Every call must succeed or fail with an
 * FST_ERROR; every frame the station sends must be a valid request.
 */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "fst-fuzz-fsp-driver.h"

#define FST_TYPE_FUZZ_TRANSPORT (fst_fuzz_transport_get_type())
G_DECLARE_FINAL_TYPE(FstFuzzTransport, fst_fuzz_transport, FST, FUZZ_TRANSPORT, FstTransport)

struct _FstFuzzTransport {
	FstTransport parent_instance;
	const guint8 *in; /* the device records */
	gsize in_len;
	gsize in_pos;
	gboolean end_disconnects;
	gboolean write_fails;
	FstDevice *device; /* (unowned): the driver on this transport */
	/* the last request the station sent, for the answer records */
	guint8 last_cmd;
	guint16 last_seq;
	guint16 prev_seq;
	guint n_requests;
	/* an encoded answer not yet read */
	guint8 pending[FST_FSP_ENCODED_MAX(FST_FUZZ_REC_PAYLOAD_MAX) + 1];
	gsize pending_len;
	gsize pending_pos;
	gboolean bytewise;
	/* decodes what the station sends */
	FstFspDecoder dec;
	guint8 dec_buf[FST_FSP_ENCODED_MAX(FST_FSP_MAX_PAYLOAD_LIMIT)];
};

G_DEFINE_TYPE(FstFuzzTransport, fst_fuzz_transport, FST_TYPE_TRANSPORT)

static gboolean
fst_fuzz_transport_take(FstFuzzTransport *self, gsize n, const guint8 **out)
{
	if (self->in_len - self->in_pos < n)
		return FALSE;
	*out = self->in + self->in_pos;
	self->in_pos += n;
	return TRUE;
}

/* fst_fsp_packet_encode() refuses a payload beyond FST_FSP_MAX_PAYLOAD_LIMIT:
 * this frames one all the same, for the station's oversize check */
static gsize
fst_fuzz_encode_oversize(const FstFspPacket *pkt, guint8 *out, gsize out_cap)
{
	static guint8 raw[FST_FSP_OVERHEAD + FST_FUZZ_REC_PAYLOAD_MAX];
	gsize n;

	g_assert_cmpuint(pkt->len, <=, FST_FUZZ_REC_PAYLOAD_MAX);
	raw[0] = (guint8)(FST_FSP_VERSION << 4);
	raw[1] = pkt->type;
	fst_fsp_put_u16(raw + 2, pkt->seq);
	fst_fsp_put_u16(raw + 4, pkt->len);
	memcpy(raw + FST_FSP_HEADER_SIZE, pkt->payload, pkt->len);
	fst_fsp_put_u32(raw + FST_FSP_HEADER_SIZE + pkt->len,
	                fst_fsp_crc32(0, raw, FST_FSP_HEADER_SIZE + pkt->len));
	n = fst_fsp_cobs_encode(raw, FST_FSP_OVERHEAD + pkt->len, out, out_cap - 1);
	g_assert_cmpuint(n, >, 0);
	out[n] = 0x00;
	return n + 1;
}

/* wraps the next answer record in a frame, into pending */
static void
fst_fuzz_transport_answer(FstFuzzTransport *self, guint8 tag)
{
	static guint8 payload[FST_FUZZ_REC_PAYLOAD_MAX];
	const guint8 *hdr;
	const guint8 *body = NULL;
	gsize len;
	gsize off = 0;
	FstFspPacket pkt = {.version = FST_FSP_VERSION};
	gsize n;

	if (!fst_fuzz_transport_take(self, 3, &hdr)) {
		self->in_pos = self->in_len;
		return;
	}
	len = MIN((gsize)(hdr[1] | (hdr[2] << 8)), FST_FUZZ_REC_PAYLOAD_MAX - 1);
	len = MIN(len, self->in_len - self->in_pos);
	(void)fst_fuzz_transport_take(self, len, &body);
	payload[0] = hdr[0];
	if (len > 0)
		memcpy(payload + 1, body, len);
	pkt.type = (tag & FST_FUZZ_REC_WRONG_TYPE)
	               ? (guint8)((self->last_cmd ^ 0x01) | FST_FSP_RESPONSE_BIT)
	               : (guint8)(self->last_cmd | FST_FSP_RESPONSE_BIT);
	pkt.seq = (tag & FST_FUZZ_REC_STALE_SEQ) ? self->prev_seq : self->last_seq;
	pkt.len = (guint16)(len + 1);
	pkt.payload = payload;
	if (tag & FST_FUZZ_REC_DELIMITER)
		self->pending[off++] = 0x00;
	if (pkt.len <= FST_FSP_MAX_PAYLOAD_LIMIT)
		n = fst_fsp_packet_encode(&pkt, self->pending + off, sizeof(self->pending) - off);
	else
		n = fst_fuzz_encode_oversize(
		    &pkt, self->pending + off, sizeof(self->pending) - off);
	g_assert_cmpuint(n, >, 0);
	self->pending_len = off + n;
	self->pending_pos = 0;
	self->bytewise = (tag & FST_FUZZ_REC_BYTEWISE) != 0;
	if (tag & FST_FUZZ_REC_CORRUPT)
		self->pending[off + (hdr[0] + len) % n] ^= 0x5a;
}

static gssize
fst_fuzz_transport_read(FstTransport *transport,
                        guint8 *buf,
                        gsize len,
                        guint timeout_ms,
                        GCancellable *cancellable,
                        GError **error)
{
	FstFuzzTransport *self = FST_FUZZ_TRANSPORT(transport);
	const guint8 *rec;
	gsize n;

	(void)cancellable;
	while (self->pending_pos >= self->pending_len) {
		guint8 tag;
		if (!fst_fuzz_transport_take(self, 1, &rec)) {
			if (self->end_disconnects)
				goto disconnect;
			goto timeout;
		}
		tag = rec[0];
		switch (tag & 0x07u) {
		case FST_FUZZ_REC_RAW: {
			const guint8 *len_byte;
			const guint8 *raw = NULL;
			gsize raw_len;
			if (!fst_fuzz_transport_take(self, 1, &len_byte))
				goto timeout;
			raw_len = MIN((gsize)len_byte[0], self->in_len - self->in_pos);
			(void)fst_fuzz_transport_take(self, raw_len, &raw);
			if (raw_len > 0)
				memcpy(self->pending, raw, raw_len);
			self->pending_len = raw_len;
			self->pending_pos = 0;
			self->bytewise = FALSE;
			break;
		}
		case FST_FUZZ_REC_TIMEOUT:
			goto timeout;
		case FST_FUZZ_REC_DISCONNECT:
			goto disconnect;
		case FST_FUZZ_REC_WRITE_FAILS:
			self->write_fails = TRUE;
			goto timeout;
		default:
			fst_fuzz_transport_answer(self, tag);
			break;
		}
	}
	n = MIN(len, self->pending_len - self->pending_pos);
	if (self->bytewise)
		n = 1;
	memcpy(buf, self->pending + self->pending_pos, n);
	self->pending_pos += n;
	return (gssize)n;

timeout:
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_TIMED_OUT,
	            "%s: nothing received in %u ms",
	            fst_transport_get_name(transport),
	            timeout_ms);
	return -1;
disconnect:
	g_set_error(error,
	            FST_ERROR,
	            FST_ERROR_DISCONNECTED,
	            "%s: the device went away",
	            fst_transport_get_name(transport));
	return -1;
}

/* checks every frame the station sends: a valid request, never a response */
static gboolean
fst_fuzz_transport_write(FstTransport *transport,
                         const guint8 *buf,
                         gsize len,
                         guint timeout_ms,
                         GCancellable *cancellable,
                         GError **error)
{
	FstFuzzTransport *self = FST_FUZZ_TRANSPORT(transport);

	(void)timeout_ms;
	(void)cancellable;
	for (gsize i = 0; i < len; i++) {
		FstFspPacket pkt;
		int rc = fst_fsp_decoder_push(&self->dec, buf[i], &pkt);
		g_assert_cmpint(rc, >=, 0);
		if (rc != FST_FSP_DEC_FRAME)
			continue;
		g_assert_true((pkt.type & FST_FSP_RESPONSE_BIT) == 0);
		/* never more than the device said it takes */
		if (self->device != NULL && fst_device_get_info(self->device) != NULL)
			g_assert_cmpuint(
			    pkt.len, <=, fst_device_get_info(self->device)->max_payload);
		if (self->n_requests > 0 && pkt.seq != self->last_seq) {
			/* a new request: the next sequence number */
			g_assert_cmpuint(pkt.seq, ==, (guint16)(self->last_seq + 1));
			self->prev_seq = self->last_seq;
		}
		self->last_cmd = pkt.type;
		self->last_seq = pkt.seq;
		self->n_requests++;
	}
	/* a frame always ends with its delimiter */
	g_assert_cmpuint(self->dec.len, ==, 0);
	/* checked all the same: the station used its sequence number */
	if (self->write_fails) {
		self->write_fails = FALSE;
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DISCONNECTED,
		            "%s: write failed",
		            fst_transport_get_name(transport));
		return FALSE;
	}
	return TRUE;
}

static gboolean
fst_fuzz_transport_open(FstTransport *transport, GError **error)
{
	(void)transport;
	(void)error;
	return TRUE;
}

static void
fst_fuzz_transport_init(FstFuzzTransport *self)
{
	fst_fsp_decoder_init(
	    &self->dec, self->dec_buf, sizeof(self->dec_buf), FST_FSP_MAX_PAYLOAD_LIMIT);
}

static void
fst_fuzz_transport_class_init(FstFuzzTransportClass *klass)
{
	FstTransportClass *transport_class = FST_TRANSPORT_CLASS(klass);
	transport_class->open = fst_fuzz_transport_open;
	transport_class->read = fst_fuzz_transport_read;
	transport_class->write = fst_fuzz_transport_write;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(FstFuzzTransport) transport = NULL;
	g_autoptr(FstDevice) device = NULL;
	guint n_calls;
	guint8 flags;
	static int verbose = -1;

	if (verbose < 0)
		verbose = g_getenv("FST_FUZZ_DRIVER_VERBOSE") != NULL;
	if (size < 2)
		return 0;
	/* a GLib critical (g_return_if_fail) or warning is a bug too */
	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
	/* the driver starts at a random sequence number: the same input must
	 * always run the same way */
	g_random_set_seed(1);

	flags = data[0];
	n_calls = MIN((guint)(flags >> 4) + 1u, (guint)(size - 1));
	transport = g_object_new(FST_TYPE_FUZZ_TRANSPORT, NULL);
	transport->in = data + 1 + n_calls;
	transport->in_len = size - 1 - n_calls;
	transport->end_disconnects = (flags & FST_FUZZ_DRIVER_END_DISCONNECT) != 0;
	fst_transport_set_name(FST_TRANSPORT(transport), "fuzz");
	if (flags & FST_FUZZ_DRIVER_BAUD)
		fst_transport_set_baud_rate(FST_TRANSPORT(transport), 115200);
	g_assert_true(fst_transport_open(FST_TRANSPORT(transport), NULL));
	device = fst_fsp_device_new(FST_TRANSPORT(transport));
	fst_fsp_device_set_retries(FST_FSP_DEVICE(device), flags & 0x03u);
	transport->device = device;

	for (guint i = 0; i < n_calls; i++) {
		g_autoptr(GError) error = NULL;
		gboolean ok = fst_fuzz_driver_call(device, data[1 + i], &error);
		/* to see what a seed does */
		if (verbose)
			g_printerr(
			    "call %u (0x%02x): %s\n", i, data[1 + i], ok ? "ok" : error->message);
	}
	fst_transport_close(FST_TRANSPORT(transport));
	return 0;
}
